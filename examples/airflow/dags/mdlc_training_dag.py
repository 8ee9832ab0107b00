"""Starts the MDLC training flow (the stack's training state machine) and waits for it to end.

Three tasks, one after the other:

  resolve_state_machine  the training state machine's ARN: the Airflow Variable
                         `mdlc_training_state_machine_arn` when it is set, else the output
                         `TrainingStateMachineArn` of the CloudFormation stack named by the Variable
                         `mdlc_stack_name` (default "mdlc")
  start_training         StepFunctionStartExecutionOperator: StartExecution with the training input
                         (below), named after the DAG run, so a retried start of the same run is
                         the same execution (Step Functions answers a repeated StartExecution of a
                         running execution's name and input with that execution)
  wait_for_training      StepFunctionExecutionSensor: DescribeExecution until the execution ends;
                         fails when it FAILED, TIMED_OUT or was ABORTED, and pushes its output (the
                         registered version) to XCom

AWS access goes through the Airflow connection `aws_default` (on Amazon MWAA: the environment's
execution role). See the README's "Orchestrating with Apache Airflow (Amazon MWAA)" section.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.hooks.cloud_formation import CloudFormationHook
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor

try:  # Airflow 3
    from airflow.sdk import DAG, Param, Variable, task
except ImportError:  # Airflow 2.x
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable
    from airflow.models.param import Param

DAG_ID = "mdlc_training"
AWS_CONN_ID = "aws_default"
ARN_VARIABLE = "mdlc_training_state_machine_arn"
STACK_VARIABLE = "mdlc_stack_name"
DEFAULT_STACK = "mdlc"
ARN_OUTPUT = "TrainingStateMachineArn"

# StartExecution's `name`: 1-80 characters, none of whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $
# & , ; : / or control characters (Step Functions API reference, StartExecution).
EXECUTION_NAME_MAX = 80
_NOT_IN_EXECUTION_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")

# The execution input (statemachine/README.md, "The execution input"): the data of the run's
# logical date under `data_prefix`; every other setting keeps the flow's default.
TRAINING_INPUT = {
    "modelName": "{{ params.model_name }}",
    "dataDate": "{{ ds }}",
    "problemType": "{{ params.problem_type }}",
    "data": {
        "train": "{{ params.data_prefix }}/{{ ds }}/train/",
        "validation": "{{ params.data_prefix }}/{{ ds }}/validation/",
        "contentType": "text/csv",
    },
    "reason": "scheduled by Airflow DAG " + DAG_ID,
}


def execution_name(run_id: str) -> str:
    """A valid, deterministic Step Functions execution name for a DAG run."""
    name = _NOT_IN_EXECUTION_NAME.sub("-", run_id)[:EXECUTION_NAME_MAX]
    return name or "mdlc-training"


def stack_output(outputs: list[dict], key: str, stack: str) -> str:
    """The value of the stack output `key`, or an error naming the stack and the output."""
    for output in outputs:
        if output.get("OutputKey") == key:
            return output["OutputValue"]
    raise ValueError(
        f"stack {stack!r} has no output {key!r}: deploy infra/template.yaml, or set the Airflow "
        f"Variable {ARN_VARIABLE!r} to the training state machine's ARN"
    )


with DAG(
    dag_id=DAG_ID,
    description="Train, tune and register a model with the MDLC training flow (AWS Step Functions)",
    schedule="@weekly",
    start_date=pendulum.datetime(2024, 6, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    user_defined_filters={"execution_name": execution_name},
    params={
        # The flow's rule for model names: 1-48 letters, digits and hyphens, starting and ending
        # with a letter or digit.
        "model_name": Param(
            "house-prices", type="string", maxLength=48, pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9])*$"
        ),
        "problem_type": Param("regression", enum=["regression", "binary"]),
        "data_prefix": Param("s3://my-ml-data/house-prices", type="string", pattern=r"^s3://"),
    },
    tags=["mdlc", "step-functions"],
) as dag:

    @task
    def resolve_state_machine() -> str:
        """The Variable's ARN, else the stack output's (read at run time, not at parse time)."""
        arn = Variable.get(ARN_VARIABLE, None)
        if arn:
            return arn
        stack = Variable.get(STACK_VARIABLE, None) or DEFAULT_STACK
        client = CloudFormationHook(aws_conn_id=AWS_CONN_ID).get_conn()
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
        return stack_output(stacks[0].get("Outputs", []), ARN_OUTPUT, stack)

    state_machine_arn = resolve_state_machine()

    start_training = StepFunctionStartExecutionOperator(
        task_id="start_training",
        aws_conn_id=AWS_CONN_ID,
        state_machine_arn=state_machine_arn,
        name="{{ run_id | execution_name }}",
        state_machine_input=TRAINING_INPUT,
    )

    wait_for_training = StepFunctionExecutionSensor(
        task_id="wait_for_training",
        aws_conn_id=AWS_CONN_ID,
        execution_arn=start_training.output,
        # A training with tuning runs for hours: free the worker slot between checks.
        mode="reschedule",
        poke_interval=timedelta(minutes=5),
        timeout=timedelta(hours=24),
    )

    state_machine_arn >> start_training >> wait_for_training
