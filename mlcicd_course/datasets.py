"""The course's running example: monthly batches of a subscription service's customers.

Every chapter uses this one synthetic data set. Each row is a customer seen in a month;
the target `churned` says whether they cancelled in the following month.

The labelling rule (before any concept drift) is a logistic model of a risk score::

    score = 0.9 * support_calls
            - 0.08 * tenure_months
            + 0.05 * (monthly_charges - 70)
            - 0.03 * (usage_hours - 40)
            + contract effect (month-to-month +1.0, one-year -0.5, two-year -1.5)
            - 0.3
    P(churned = 1) = 1 / (1 + exp(-score / NOISE_SCALE))

so `churned` follows the sign of the score, with noise (label noise grows near
score = 0). Missing `usage_hours` or `monthly_charges` count as their typical values
(40 and 70) in the rule. Concept drift moves the rule towards `RULE_AFTER` (customers
become price-sensitive and long-term contracts protect less), covariate drift raises
prices and lowers usage, a label-prior shift resamples customers so that the churn
rate reaches a target while P(features | churned) stays the same. Data-quality faults
(out-of-range values, duplicate rows, unseen categories, wrong dtypes, a burst of
missing values) are injected into chosen months for validation chapters to catch.

Everything is drawn from `numpy.random.default_rng([seed, month])`, so a month's rows
depend only on the seed, the month and the settings, and files are byte-identical
across runs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import check_outputs, json_text, read_csv, read_json, write_outputs

TARGET = "churned"
ID_COLUMNS = ("customer_id", "month")
NUMERIC_FEATURES = ("tenure_months", "monthly_charges", "support_calls", "usage_hours")
CATEGORICAL_FEATURES = ("contract", "region")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
CONTRACTS = ("month-to-month", "one-year", "two-year")
REGIONS = ("east", "north", "south", "west")
FAULTS = ("out_of_range", "duplicates", "unseen_category", "wrong_dtype", "missing_burst")
NOISE_SCALE = 0.35

COLUMN_DESCRIPTIONS = {
    "customer_id": "integer, unique within a month: month number * 100000 + row",
    "month": "the batch, as YYYY-MM",
    "tenure_months": "integer 1-72: months since the customer signed up",
    "monthly_charges": "float 18-150, 2 decimals: the monthly bill in EUR",
    "support_calls": "integer 0-15: calls to support in the month",
    "usage_hours": "float 0-300, 1 decimal: hours of use in the month (may be missing)",
    "contract": "category: " + ", ".join(CONTRACTS),
    "region": "category: " + ", ".join(REGIONS),
    TARGET: "0/1: the customer cancelled in the following month",
}


@dataclass(frozen=True)
class Rule:
    """Weights of the labelling rule's risk score (see the module docstring)."""

    support_calls: float
    tenure_months: float
    monthly_charges: float
    usage_hours: float
    contract: Mapping[str, float]
    intercept: float

    def describe(self) -> str:
        """The rule as one line of text, for data cards and notebooks."""
        contract = ", ".join(f"{k} {v:+.2f}" for k, v in self.contract.items())
        return (
            f"score = {self.support_calls:.2f}*support_calls "
            f"{self.tenure_months:+.3f}*tenure_months "
            f"{self.monthly_charges:+.3f}*(monthly_charges-70) "
            f"{self.usage_hours:+.3f}*(usage_hours-40) + contract[{contract}] "
            f"{self.intercept:+.2f}; P(churned) = sigmoid(score/{NOISE_SCALE})"
        )


RULE_BEFORE = Rule(0.9, -0.08, 0.05, -0.03,
                   {"month-to-month": 1.0, "one-year": -0.5, "two-year": -1.5}, -0.3)
RULE_AFTER = Rule(0.5, -0.04, 0.16, -0.03,
                  {"month-to-month": 1.0, "one-year": 0.3, "two-year": -0.3}, -1.2)


def rule_at(concept: float) -> Rule:
    """The rule a fraction `concept` (0 = before, 1 = after) of the way to RULE_AFTER."""
    def mix(a: float, b: float) -> float:
        return (1 - concept) * a + concept * b

    return Rule(
        mix(RULE_BEFORE.support_calls, RULE_AFTER.support_calls),
        mix(RULE_BEFORE.tenure_months, RULE_AFTER.tenure_months),
        mix(RULE_BEFORE.monthly_charges, RULE_AFTER.monthly_charges),
        mix(RULE_BEFORE.usage_hours, RULE_AFTER.usage_hours),
        {k: mix(RULE_BEFORE.contract[k], RULE_AFTER.contract[k]) for k in CONTRACTS},
        mix(RULE_BEFORE.intercept, RULE_AFTER.intercept),
    )


def risk_score(frame: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    """The labelling rule's score for each row (positive means churn is more likely)."""
    rule = rule_at(concept)
    charges = pd.to_numeric(frame["monthly_charges"], errors="coerce").fillna(70.0)
    usage = pd.to_numeric(frame["usage_hours"], errors="coerce").fillna(40.0)
    tenure = pd.to_numeric(frame["tenure_months"], errors="coerce").fillna(12.0)
    calls = pd.to_numeric(frame["support_calls"], errors="coerce").fillna(1.5)
    contract = frame["contract"].map(dict(rule.contract)).fillna(0.0).astype(float)
    score = (
        rule.support_calls * calls
        + rule.tenure_months * tenure
        + rule.monthly_charges * (charges - 70)
        + rule.usage_hours * (usage - 40)
        + contract
        + rule.intercept
    )
    return score.to_numpy(dtype=float)


def churn_probability(frame: pd.DataFrame, concept: float = 0.0) -> np.ndarray:
    """P(churned = 1) under the rule at the given concept-drift level."""
    return 1.0 / (1.0 + np.exp(-risk_score(frame, concept) / NOISE_SCALE))


def _draw_customers(rng: np.random.Generator, n: int, covariate: float) -> pd.DataFrame:
    """Draw `n` customers; `covariate` (0 = none) raises prices and lowers usage."""
    tenure = np.clip(np.round(rng.gamma(2.0, 10.0, n)), 1, 72).astype(int)
    charges = np.clip(rng.normal(70 + 20 * covariate, 20, n), 18, 150).round(2)
    calls = np.clip(rng.poisson(1.5, n), 0, 15).astype(int)
    usage = np.clip(rng.gamma(4.0, 10.0 * (1 - 0.3 * min(covariate, 2.0) / 2), n), 0, 300).round(1)
    contract = rng.choice(CONTRACTS, size=n, p=[0.5, 0.3, 0.2])
    region = rng.choice(REGIONS, size=n)
    return pd.DataFrame({
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": calls,
        "usage_hours": usage,
        "contract": contract,
        "region": region,
    })


def sample(
    n: int,
    *,
    seed: int | list[int] = 0,
    covariate: float = 0.0,
    concept: float = 0.0,
    churn_rate: float | None = None,
    missing_rate: float = 0.0,
) -> pd.DataFrame:
    """One batch of `n` labelled customers at the given drift levels (features + target).

    `covariate` shifts prices up by 20 EUR and usage down per unit, `concept` moves the
    labelling rule (0 to 1), `churn_rate` resamples to that share of churners keeping
    P(features | churned) fixed, `missing_rate` blanks that share of `usage_hours`.
    """
    if n < 0:
        raise UserInputError(f"number of rows must be >= 0, got {n}")
    if churn_rate is not None and not 0.0 < churn_rate < 1.0:
        raise UserInputError(f"churn rate must be strictly between 0 and 1, got {churn_rate}")
    if not 0.0 <= missing_rate < 1.0:
        raise UserInputError(f"missing rate must be in [0, 1), got {missing_rate}")
    rng = np.random.default_rng(seed)
    pool_size = n if churn_rate is None else 8 * n + 100
    pool = _draw_customers(rng, pool_size, covariate)
    pool[TARGET] = (rng.random(pool_size) < churn_probability(pool, concept)).astype(int)
    if churn_rate is None:
        frame = pool
    else:
        n_pos = int(round(churn_rate * n))
        positives = np.flatnonzero(pool[TARGET].to_numpy() == 1)
        negatives = np.flatnonzero(pool[TARGET].to_numpy() == 0)
        if len(positives) < n_pos or len(negatives) < n - n_pos:
            raise UserInputError(f"churn rate {churn_rate} is too far from the rule's own rate")
        chosen = np.concatenate([
            rng.choice(positives, n_pos, replace=False),
            rng.choice(negatives, n - n_pos, replace=False),
        ])
        frame = pool.iloc[np.sort(chosen)].reset_index(drop=True)
    if missing_rate > 0:
        blank = rng.random(len(frame)) < missing_rate
        frame["usage_hours"] = frame["usage_hours"].where(~blank)
    return frame


@dataclass(frozen=True)
class Scenario:
    """Settings for a run of monthly batches; the data card records all of them.

    Drift ramps linearly from month `drift_start` (1-based; default: the month after
    the first half) to full size in the last month: `covariate_drift` and
    `concept_drift` are the final levels (see `sample`), `churn_rate` the final churn
    rate (None keeps the rule's own rate). `faults` are injected into `fault_months`
    (default: the last month).
    """

    seed: int = 42
    months: int = 12
    rows_per_month: int = 1000
    start: str = "2026-01"
    drift_start: int | None = None
    covariate_drift: float = 0.0
    concept_drift: float = 0.0
    churn_rate: float | None = None
    missing_rate: float = 0.0
    faults: tuple[str, ...] = ()
    fault_months: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.months < 1:
            raise UserInputError(f"months must be at least 1, got {self.months}")
        if self.rows_per_month < 1:
            raise UserInputError(f"rows per month must be at least 1, got {self.rows_per_month}")
        if self.drift_start is None:
            object.__setattr__(self, "drift_start", self.months // 2 + 1)
        if not 1 <= self.drift_start <= self.months:
            raise UserInputError(
                f"drift start must be a month between 1 and {self.months}, got {self.drift_start}")
        if not math.isfinite(self.covariate_drift):
            raise UserInputError(f"covariate drift must be a finite number, got "
                                 f"{self.covariate_drift}")
        if not 0.0 <= self.concept_drift <= 1.0:
            raise UserInputError(f"concept drift must be in [0, 1], got {self.concept_drift}")
        unknown = sorted(set(self.faults) - set(FAULTS))
        if unknown:
            raise UserInputError(
                f"unknown fault {unknown[0]!r}; choose from {', '.join(FAULTS)}")
        bad_months = [m for m in self.fault_months if not 1 <= m <= self.months]
        if bad_months:
            raise UserInputError(f"fault month {bad_months[0]} is outside 1..{self.months}")
        _month_label(self.start, 0)

    def level(self, month: int) -> float:
        """Share (0 to 1) of the final drift reached in `month` (1-based)."""
        if month < self.drift_start:
            return 0.0
        return (month - self.drift_start + 1) / (self.months - self.drift_start + 1)

    def label(self, month: int) -> str:
        """The YYYY-MM name of `month` (1-based)."""
        return _month_label(self.start, month - 1)

    def faulty_months(self) -> tuple[int, ...]:
        """Months that receive the faults."""
        if not self.faults:
            return ()
        return tuple(sorted(set(self.fault_months))) or (self.months,)


def _month_label(start: str, offset: int) -> str:
    try:
        year, month = (int(part) for part in start.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise UserInputError(f"start month must look like 2026-01, got {start!r}") from None
    total = year * 12 + (month - 1) + offset
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def inject_faults(
    frame: pd.DataFrame, faults: tuple[str, ...], seed: int | list[int]
) -> pd.DataFrame:
    """A copy of `frame` with data-quality faults.

    Each fault but one changes max(1, n // 50) of the n rows (2%): out_of_range: negative
    tenure and monthly charges of 9999; duplicates: those rows repeated; unseen_category:
    contract "prepaid" and region "central"; wrong_dtype: tenure written as text
    ("12 months"). missing_burst is a burst, not a trickle: it blanks each monthly charge
    with probability 0.4, so about 40% of them.
    """
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    n = len(frame)
    k = max(1, n // 50)
    for fault in faults:
        rows = np.sort(rng.choice(n, size=min(k, n), replace=False))
        if fault == "out_of_range":
            frame.loc[rows[: k // 2 + 1], "tenure_months"] = -5
            frame.loc[rows[k // 2 + 1:], "monthly_charges"] = 9999.0
        elif fault == "duplicates":
            frame = pd.concat([frame, frame.iloc[rows]]).sort_index(kind="stable")
            frame = frame.reset_index(drop=True)
        elif fault == "unseen_category":
            frame.loc[rows[: k // 2 + 1], "contract"] = "prepaid"
            frame.loc[rows[k // 2 + 1:], "region"] = "central"
        elif fault == "wrong_dtype":
            tenure = frame["tenure_months"].astype(object)
            tenure.iloc[rows] = [f"{v} months" for v in tenure.iloc[rows]]
            frame["tenure_months"] = tenure
        elif fault == "missing_burst":
            blank = rng.random(len(frame)) < 0.4
            frame["monthly_charges"] = frame["monthly_charges"].where(~blank)
        n = len(frame)
    return frame


def flip_labels(frame: pd.DataFrame, rate: float, seed: int | list[int]) -> pd.DataFrame:
    """A copy of `frame` whose target is flipped (0 <-> 1) on a seeded share `rate` of rows.

    A labelling bug for the pipeline chapter: below 0.5 the flips are noise that a model
    mostly averages away; above 0.5 the model learns the rule backwards.
    """
    if not 0.0 <= rate <= 1.0:
        raise UserInputError(f"label flip rate must be in [0, 1], got {rate}")
    flipped = np.random.default_rng(seed).random(len(frame)) < rate
    frame = frame.copy()
    frame[TARGET] = np.where(flipped, 1 - frame[TARGET].to_numpy(), frame[TARGET].to_numpy())
    return frame


def generate_month(scenario: Scenario, month: int) -> pd.DataFrame:
    """The rows of `month` (1-based): ids, features and target, faults included."""
    level = scenario.level(month)
    churn_rate = None
    if scenario.churn_rate is not None and level > 0:
        base = base_churn_rate()
        churn_rate = base + level * (scenario.churn_rate - base)
    frame = sample(
        scenario.rows_per_month,
        seed=[scenario.seed, month],
        covariate=level * scenario.covariate_drift,
        concept=level * scenario.concept_drift,
        churn_rate=churn_rate,
        missing_rate=scenario.missing_rate,
    )
    frame.insert(0, "month", scenario.label(month))
    frame.insert(0, "customer_id", month * 100_000 + np.arange(len(frame)))
    if month in scenario.faulty_months():
        frame = inject_faults(frame, scenario.faults, [scenario.seed, month, 1])
    return frame


@cache
def base_churn_rate() -> float:
    """The churn rate the rule gives before drift, estimated on 200,000 fixed draws."""
    frame = sample(200_000, seed=[0, 0])
    return round(float(churn_probability(frame).mean()), 3)


def generate(scenario: Scenario) -> dict[str, pd.DataFrame]:
    """All months of a scenario, keyed by YYYY-MM, in order."""
    return {scenario.label(m): generate_month(scenario, m) for m in range(1, scenario.months + 1)}


def data_card(scenario: Scenario, batches: Mapping[str, pd.DataFrame]) -> dict:
    """A small description of a generated data set: columns, rule, settings, batches."""
    return {
        "name": "mlcicd-course running example: subscription churn",
        "target": TARGET,
        "columns": COLUMN_DESCRIPTIONS,
        "rule_before_drift": RULE_BEFORE.describe(),
        "rule_after_full_concept_drift": RULE_AFTER.describe(),
        "settings": {**asdict(scenario), "faults": list(scenario.faults),
                     "fault_months": list(scenario.faulty_months())},
        "batches": [
            {
                "month": month,
                "file": f"{month}.csv",
                "rows": int(len(frame)),
                "churn_rate": round(float(pd.to_numeric(frame[TARGET]).mean()), 4),
                "drift_level": round(scenario.level(i), 4),
            }
            for i, (month, frame) in enumerate(batches.items(), start=1)
        ],
    }


def write_dataset(scenario: Scenario, out_dir: str | Path) -> list[Path]:
    """Write one CSV per month and `data_card.json` to `out_dir`, all or nothing; return
    the paths. The folder is checked before the data are generated."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserInputError(f"output path exists and is not a folder: {out_dir}")
    check_outputs(("output folder", out_dir / "data_card.json"))
    batches = generate(scenario)
    card = data_card(scenario, batches)
    files: dict[Path, str] = {}
    for month, frame in batches.items():
        text = frame.to_csv(index=False, lineterminator="\n")
        files[out_dir / f"{month}.csv"] = text
        card_entry = next(b for b in card["batches"] if b["month"] == month)
        card_entry["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    files[out_dir / "data_card.json"] = json_text(card)
    return write_outputs(files)


def read_dataset(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read the monthly CSVs listed in a folder's data card, keyed by YYYY-MM."""
    folder = Path(folder)
    card_path = folder / "data_card.json"
    if not card_path.is_file():
        raise UserInputError(f"no data_card.json in {folder}: run `mlcicd data generate` first")
    card = read_json(card_path, what="data card")
    try:
        files = [(b["month"], b["file"]) for b in card["batches"]]
    except (KeyError, TypeError) as err:
        raise UserInputError(f"malformed data card {card_path}: {err}") from None
    return {month: read_csv(folder / name, what=f"batch {month}") for month, name in files}
