"""The rollout controllers on the AWS API: an Application Load Balancer, CloudWatch alarms,
a SageMaker guardrails request, and a local AWS endpoint (moto) for notebooks and tests."""
