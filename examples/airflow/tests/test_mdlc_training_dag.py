"""The example DAG (../dags/mdlc_training_dag.py): loaded by Airflow's DagBag, and run with
`dag.test()` against moto's Step Functions, which executes the state machine it is given.

When $MDLC_AIRFLOW_SENT_INPUT_DIR is set, every execution input the DAG sent is written there as
<test name>.json: tests/tests/airflow_dag.rs validates them with the flows' own input validation.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pendulum
import pytest
from conftest import DAGS

DAG_ID = "mdlc_training"
ROLE_ARN = "arn:aws:iam::123456789012:role/mdlc-training-state-machine"
VALID_EXECUTION_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")

# Stand-ins for the deployed training flow: one that runs (Wait) and then ends like a registration,
# and one that fails as the real flow's `Failed` state does.
SUCCEEDS = {
    "StartAt": "Train",
    "States": {
        "Train": {"Type": "Wait", "Seconds": 2, "Next": "RegisterModel"},
        "RegisterModel": {
            "Type": "Pass",
            "Parameters": {"modelName.$": "$.modelName", "version": 7},
            "End": True,
        },
    },
}
FAILS = {
    "StartAt": "Failed",
    "States": {"Failed": {"Type": "Fail", "Error": "TrainingJobFailed", "Cause": "stand-in"}},
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), include_examples=False)


@pytest.fixture(scope="module")
def dag_module():
    import importlib.util

    path = DAGS / "mdlc_training_dag.py"
    spec = importlib.util.spec_from_file_location("mdlc_training_dag", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dagbag_loads_the_dag_without_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dag_ids == [DAG_ID]


def test_tasks_are_resolve_then_start_then_wait_with_the_step_functions_operator_and_sensor(dagbag):
    from airflow.providers.amazon.aws.operators.step_function import (
        StepFunctionStartExecutionOperator,
    )
    from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor

    dag = dagbag.dags[DAG_ID]
    assert sorted(dag.task_ids) == ["resolve_state_machine", "start_training", "wait_for_training"]
    start, wait = dag.get_task("start_training"), dag.get_task("wait_for_training")
    assert type(start) is StepFunctionStartExecutionOperator
    assert type(wait) is StepFunctionExecutionSensor
    assert dag.get_task("resolve_state_machine").upstream_task_ids == set()
    assert start.upstream_task_ids == {"resolve_state_machine"}
    assert wait.upstream_task_ids == {"start_training"}
    assert wait.downstream_task_ids == set()
    assert wait.mode == "reschedule"
    assert start.aws_conn_id == wait.aws_conn_id == "aws_default"


@pytest.mark.parametrize(
    "run_id",
    [
        "scheduled__2024-06-01T00:00:00+00:00",
        "manual__2026-01-02T03:04:05.678901+00:00",
        "my run #1 / {retry} ; $HOME & `x`",
        "r" * 300,
        ":::",
    ],
)
def test_execution_name_is_a_valid_step_functions_name_for_any_run_id(dag_module, run_id):
    name = dag_module.execution_name(run_id)
    assert VALID_EXECUTION_NAME.match(name), name
    assert dag_module.execution_name(run_id) == name  # a retry of the run gets the same name


def test_a_stack_without_the_output_is_an_error_naming_the_stack_and_the_output(dag_module):
    key = "TrainingStateMachineArn"
    with pytest.raises(ValueError, match=r"stack 'mdlc' has no output 'TrainingStateMachineArn'"):
        dag_module.stack_output([{"OutputKey": "Other", "OutputValue": "x"}], key, "mdlc")
    found = dag_module.stack_output([{"OutputKey": key, "OutputValue": "arn:x"}], key, "mdlc")
    assert found == "arn:x"


def _create_state_machine(sfn, name: str, definition: dict) -> str:
    created = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE_ARN
    )
    return created["stateMachineArn"]


def _publish_by_stack(cfn, stack: str, arn: str) -> None:
    """A CloudFormation stack with the output TrainingStateMachineArn = `arn`, as infra/ has."""
    template = {
        "Parameters": {"Arn": {"Type": "String"}},
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"TrainingStateMachineArn": {"Value": {"Ref": "Arn"}}},
    }
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Arn", "ParameterValue": arn}],
    )


def _run(dagbag, logical_date):
    dag = dagbag.dags[DAG_ID]
    # The DAG checks every 5 minutes for up to a day; here every second (the stand-in runs for
    # 2 s), and a stuck execution fails the sensor after 2 minutes instead of hanging the suite.
    sensor = dag.get_task("wait_for_training")
    sensor.poke_interval = 1
    sensor.timeout = 120
    return dag.test(logical_date=logical_date)


def _states(run) -> dict:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _keep_sent_input(request, execution_input: str) -> None:
    out = os.environ.get("MDLC_AIRFLOW_SENT_INPUT_DIR")
    if out:
        Path(out, f"{request.node.name}.json").write_text(execution_input)


@pytest.mark.parametrize("arn_from", ["variable", "stack_output"])
def test_dag_run_starts_the_training_flow_and_waits_until_it_succeeds(
    airflow_db, aws, dagbag, dag_module, monkeypatch, request, arn_from
):
    sfn = aws("stepfunctions")
    name = f"mdlc-training-{arn_from.replace('_', '-')}"
    arn = _create_state_machine(sfn, name, SUCCEEDS)
    if arn_from == "variable":
        monkeypatch.setenv("AIRFLOW_VAR_MDLC_TRAINING_STATE_MACHINE_ARN", arn)
    else:
        monkeypatch.delenv("AIRFLOW_VAR_MDLC_TRAINING_STATE_MACHINE_ARN", raising=False)
        monkeypatch.setenv("AIRFLOW_VAR_MDLC_STACK_NAME", f"stack-{name}")
        _publish_by_stack(aws("cloudformation"), f"stack-{name}", arn)
    logical_date = pendulum.datetime(2024, 6, 3 if arn_from == "variable" else 10, tz="UTC")

    run = _run(dagbag, logical_date)

    states = _states(run)
    assert states == dict.fromkeys(states, "success") and len(states) == 3, states
    assert run.state == "success"
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 1, executions
    execution = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert execution["status"] == "SUCCEEDED"
    assert execution["name"] == dag_module.execution_name(run.run_id)
    sent = json.loads(execution["input"])
    ds = logical_date.to_date_string()
    assert sent["modelName"] == "house-prices"
    assert sent["dataDate"] == ds
    assert sent["problemType"] == "regression"
    assert sent["data"]["train"] == f"s3://my-ml-data/house-prices/{ds}/train/"
    assert sent["data"]["validation"] == f"s3://my-ml-data/house-prices/{ds}/validation/"
    assert json.loads(execution["output"]) == {"modelName": "house-prices", "version": 7}
    _keep_sent_input(request, execution["input"])


def test_dag_run_fails_when_the_training_flow_fails(airflow_db, aws, dagbag, monkeypatch):
    sfn = aws("stepfunctions")
    arn = _create_state_machine(sfn, "mdlc-training-fails", FAILS)
    monkeypatch.setenv("AIRFLOW_VAR_MDLC_TRAINING_STATE_MACHINE_ARN", arn)

    run = _run(dagbag, pendulum.datetime(2024, 6, 17, tz="UTC"))

    states = _states(run)
    assert states["start_training"] == "success"
    assert states["wait_for_training"] == "failed"
    assert run.state == "failed"
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert execution["status"] == "FAILED"
