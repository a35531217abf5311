"""A fake of the GitHub REST API for actions/github-script (issue comments)."""

HARNESS = r"""
// Local stand-in for actions/github-script: runs the script with a fake `github` client
// whose issue comments live in a JSON file. Only the calls below exist; others throw.
// Each call needs the scope GitHub asks of the job's token (issues or pull-requests, read
// to list, write to create or update), else it fails as on GitHub: 403, "Resource not
// accessible by integration".
const fs = require('fs');
const [statePath, scriptPath, contextPath, tokenPath] = process.argv.slice(2);
const scopes = JSON.parse(fs.readFileSync(tokenPath, 'utf8'));
const LEVEL = { none: 0, read: 1, write: 2 };
const need = (level) => {
  if (['issues', 'pull-requests'].some((s) => LEVEL[scopes[s] || 'none'] >= LEVEL[level])) return;
  const err = new Error('Resource not accessible by integration');
  err.name = 'HttpError'; err.status = 403; throw err;
};
const state = fs.existsSync(statePath)
  ? JSON.parse(fs.readFileSync(statePath, 'utf8')) : { comments: [], next_id: 1 };
const save = () => fs.writeFileSync(statePath, JSON.stringify(state, null, 2) + '\n');
const ctx = JSON.parse(fs.readFileSync(contextPath, 'utf8'));
const log = (call) => console.log(`::api::${call}`);
const strict = (obj, prefix) => new Proxy(obj, { get(target, key) {
  if (key in target || typeof key === 'symbol') return target[key];
  throw new Error(`${prefix}.${String(key)} is not available in the local stand-in`);
} });
const issues = strict({
  async listComments({ issue_number, per_page = 30, page = 1 }) {
    need('read');
    const all = state.comments.filter((c) => c.issue_number === issue_number);
    return { data: all.slice((page - 1) * per_page, page * per_page) };
  },
  async createComment({ issue_number, body }) {
    need('write');
    const comment = { id: state.next_id++, issue_number, body,
                      user: { login: 'github-actions[bot]', type: 'Bot' } };
    state.comments.push(comment); save(); log(`createComment #${comment.id}`);
    return { data: comment };
  },
  async updateComment({ comment_id, body }) {
    need('write');
    const comment = state.comments.find((c) => c.id === comment_id);
    if (!comment) { const err = new Error('Not Found'); err.status = 404; throw err; }
    comment.body = body; save(); log(`updateComment #${comment.id}`);
    return { data: comment };
  },
}, 'github.rest.issues');
const github = strict({
  rest: strict({ issues }, 'github.rest'),
  async paginate(method, params) {
    const per_page = params.per_page || 30; const out = [];
    for (let page = 1; ; page++) {
      const { data } = await method({ ...params, per_page, page });
      out.push(...data);
      if (data.length < per_page) return out;
    }
  },
}, 'github');
const setOutput = (name, value) => fs.appendFileSync(process.env.GITHUB_OUTPUT,
  `${name}<<__mlcicd_eof__\n${value}\n__mlcicd_eof__\n`);
const core = {
  setFailed(message) { console.log(`::error::${message}`); process.exitCode = 1; },
  info: (m) => console.log(m), debug: () => {}, setOutput,
  warning: (m) => console.log(`::warning::${m}`), notice: (m) => console.log(`::notice::${m}`),
  error: (m) => console.log(`::error::${m}`),
};
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const body = fs.readFileSync(scriptPath, 'utf8');
new AsyncFunction('require', 'github', 'context', 'core', body)(require, github, ctx, core)
  .then((result) => { if (result !== undefined) setOutput('result', JSON.stringify(result)); })
  .catch((err) => {
    console.log(`::error::Unhandled error: ${err}`); process.exitCode = 1;
  });
"""
