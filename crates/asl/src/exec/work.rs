//! One attempt of a Task, Parallel or Map state, from its raw input to its output: the input
//! and output processing they share (InputPath, Parameters/Arguments, ResultSelector,
//! ResultPath, OutputPath, Output, Assign) around the state's own work.

use serde_json::Value;

use super::Run;
use super::eval::{
    Assigns, FieldInput, apply_io_path, apply_result_path, assigns_of, eval_ja, eval_jp, output_of,
    states_var,
};
use super::failure::Failure;
use super::types::{Env, Scope, StateRun};
use crate::model::{Kind, Ql};

impl Run<'_> {
    /// Returns the output and the variable assignments to make on success.
    pub(super) async fn exec_work(
        &self,
        sr: &StateRun<'_>,
        raw: &Value,
        scope: &Scope<'_>,
        prev: &mut u64,
    ) -> Result<(Value, Assigns), Failure> {
        let token = match &sr.st.kind {
            Kind::Task(t) if t.task_token => Some(uuid::Uuid::new_v4().to_string()),
            _ => None,
        };
        let ctx = sr
            .st
            .uses_context
            .then(|| self.context(sr, token.as_deref()));
        let io = WorkIo {
            raw,
            ctx: ctx.as_ref(),
            token: token.as_deref(),
        };
        match sr.st.ql {
            Ql::JsonPath => self.work_jsonpath(sr, io, scope, prev).await,
            Ql::Jsonata => self.work_jsonata(sr, io, scope, prev).await,
        }
    }

    async fn work_jsonpath(
        &self,
        sr: &StateRun<'_>,
        io: WorkIo<'_>,
        scope: &Scope<'_>,
        prev: &mut u64,
    ) -> Result<(Value, Assigns), Failure> {
        let st = sr.st;
        let env = Env { ctx: io.ctx, scope };
        let effective = apply_io_path(sr, &st.input_path, io.raw.clone(), &env)?;
        let result = match &st.kind {
            Kind::Map(m) => {
                self.exec_map(sr, m, &effective, io.raw, scope, prev, None)
                    .await?
            }
            _ => {
                let params = match &st.parameters {
                    Some(p) => eval_jp(sr, p, &effective, &env)?,
                    None => effective.clone(),
                };
                let at = FieldInput {
                    input: &effective,
                    env: &env,
                    jenv: None,
                };
                self.exec_action(sr, params, scope, prev, at, io.token)
                    .await?
            }
        };
        let result = match &st.result_selector {
            Some(t) => eval_jp(sr, t, &result, &env)?,
            None => result,
        };
        let assigns = assigns_of(sr, st.assign.as_ref(), &result, &env, None)?;
        let combined = apply_result_path(sr, &st.result_path, io.raw.clone(), result)?;
        let out = apply_io_path(sr, &st.output_path, combined, &env)?;
        Ok((out, assigns))
    }

    async fn work_jsonata(
        &self,
        sr: &StateRun<'_>,
        io: WorkIo<'_>,
        scope: &Scope<'_>,
        prev: &mut u64,
    ) -> Result<(Value, Assigns), Failure> {
        let st = sr.st;
        let raw = io.raw;
        let jenv = self.jsonata_env(&states_var(raw, io.ctx, None, None), scope);
        let penv = Env { ctx: io.ctx, scope };
        let result = match &st.kind {
            Kind::Map(m) => {
                self.exec_map(sr, m, raw, raw, scope, prev, Some(&jenv))
                    .await?
            }
            _ => {
                let args = match &st.parameters {
                    Some(p) => eval_ja(sr, p, "Arguments", &jenv)?,
                    None => raw.clone(),
                };
                let at = FieldInput {
                    input: raw,
                    env: &penv,
                    jenv: Some(&jenv),
                };
                self.exec_action(sr, args, scope, prev, at, io.token)
                    .await?
            }
        };
        let jenv = self.jsonata_env(&states_var(raw, io.ctx, Some(&result), None), scope);
        let assigns = assigns_of(sr, st.assign.as_ref(), raw, &penv, Some(&jenv))?;
        let out = output_of(sr, st.output.as_ref(), result, &jenv)?;
        Ok((out, assigns))
    }

    /// Runs a Task or a Parallel with its effective parameters. `TimeoutSecondsPath` and
    /// `HeartbeatSecondsPath` read the state's input (after InputPath), not the parameters.
    async fn exec_action(
        &self,
        sr: &StateRun<'_>,
        params: Value,
        scope: &Scope<'_>,
        prev: &mut u64,
        at: FieldInput<'_, '_>,
        token: Option<&str>,
    ) -> Result<Value, Failure> {
        match &sr.st.kind {
            Kind::Task(t) => self.exec_task(sr, t, params, prev, &at, token).await,
            Kind::Parallel { branches } => self.exec_parallel(branches, params, scope, prev).await,
            _ => Ok(params),
        }
    }
}

/// The raw input of an attempt, its context object (when the state reads it) and its task
/// token (for a callback task).
#[derive(Clone, Copy)]
struct WorkIo<'a> {
    raw: &'a Value,
    ctx: Option<&'a Value>,
    token: Option<&'a str>,
}
