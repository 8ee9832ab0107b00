//! What one execution's states share while they run: the variables in scope, what paths can
//! see, the facts of the state being run, where a state leads. Below the run loop
//! ([`super::Run`]) and the Distributed Map's reader and writer (`crate::distributed`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

use crate::model::{State, StateType};
use crate::path::PathEnv;
use crate::template::Template;

/// Variables: one frame per scope (the state machine, each Parallel branch, each Map iteration).
pub(crate) struct Scope<'p> {
    vars: HashMap<String, Value>,
    parent: Option<&'p Scope<'p>>,
    /// What the state being run assigned (its `…StateExited` event's `assignedVariables`).
    assigned: Vec<(String, Value)>,
    /// Where a Parallel branch or a Map iteration is, for its Parallel or Map to read when a
    /// sibling's failure ends it.
    progress: Option<&'p Progress>,
}

impl<'p> Scope<'p> {
    pub(crate) fn root() -> Self {
        Scope {
            vars: HashMap::new(),
            parent: None,
            assigned: Vec::new(),
            progress: None,
        }
    }

    /// A branch's or an iteration's scope below `parent`, reporting the state it runs to
    /// `progress`.
    pub(crate) fn tracked(parent: &'p Scope<'p>, progress: &'p Progress) -> Self {
        Scope {
            progress: Some(progress),
            ..Scope::child(Some(parent))
        }
    }

    /// Notes that the scope's graph entered a state of type `ty`.
    pub(crate) fn entered(&self, ty: StateType) {
        if let Some(p) = self.progress {
            p.entered(ty);
        }
    }

    pub(crate) fn child(parent: Option<&'p Scope<'p>>) -> Self {
        Scope {
            vars: HashMap::new(),
            parent,
            assigned: Vec::new(),
            progress: None,
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        match self.vars.get(name) {
            Some(v) => Some(v),
            None => self.parent.and_then(|p| p.get(name)),
        }
    }

    /// Every variable in scope, the outer frames' first (an inner one shadows them).
    pub(crate) fn all(&self, out: &mut Vec<(String, Value)>) {
        if let Some(p) = self.parent {
            p.all(out);
        }
        for (k, v) in &self.vars {
            out.push((k.clone(), v.clone()));
        }
    }

    /// Sets the variables of a state's `Assign` in this frame.
    #[inline]
    pub(crate) fn assign(&mut self, assigns: Vec<(String, Value)>) {
        // most states assign nothing: no call, no frame to touch
        if !assigns.is_empty() {
            self.assign_all(assigns);
        }
    }

    fn assign_all(&mut self, assigns: Vec<(String, Value)>) {
        for (k, v) in &assigns {
            self.vars.insert(k.clone(), v.clone());
        }
        self.assigned.extend(assigns);
    }

    /// What the state just run assigned, as its exited event names it (`None`: nothing).
    #[inline]
    pub(crate) fn take_assigned(&mut self) -> Option<Value> {
        if self.assigned.is_empty() {
            return None;
        }
        Some(Value::Object(self.assigned.drain(..).collect()))
    }
}

/// What the paths of one state can see.
pub(crate) struct Env<'a> {
    pub ctx: Option<&'a Value>,
    pub scope: &'a Scope<'a>,
}

impl PathEnv for Env<'_> {
    fn context(&self) -> Option<&Value> {
        self.ctx
    }
    fn variable(&self, name: &str) -> Option<&Value> {
        self.scope.get(name)
    }
}

/// Per-state runtime facts that error messages and the context object use.
pub(crate) struct StateRun<'a> {
    pub st: &'a State,
    pub entered_id: u64,
    pub entered_time: String,
    pub retry_count: u64,
    pub map_item: Option<(usize, &'a Value)>,
}

/// Where a state leads: to the state at an index of its graph, or out of the graph.
pub(crate) enum Flow {
    Next(usize, Value),
    End(Value),
}

impl Flow {
    /// The state's `Next` with `out`, or the end of its graph.
    pub(crate) fn after(st: &State, out: Value) -> Flow {
        match st.next {
            Some(n) => Flow::Next(n, out),
            None => Flow::End(out),
        }
    }
}

/// A planned Wait: how long to sleep, and whether the execution times out meanwhile.
pub(crate) struct WaitPlan {
    pub sleep: Duration,
    pub times_out: bool,
}

/// What a state without a result of its own (Choice, Wait, Succeed, a JSONata Pass) decided on
/// its input, and the `Assign` and JSONata `Output` that go with the decision.
pub(crate) struct Decided<'t, T> {
    pub assign: Option<&'t Template>,
    /// JSONata only (JSONPath states shape their output with `OutputPath`).
    pub output: Option<&'t Template>,
    pub value: T,
}

impl<'t, T> Decided<'t, T> {
    /// `value` with the state's own `Assign` and `Output`.
    pub(crate) fn of_state(st: &'t State, value: T) -> Self {
        Decided {
            assign: st.assign.as_ref(),
            output: st.output.as_ref(),
            value,
        }
    }
}

/// Where a Parallel branch or a Map iteration is: whether it runs, and the type of the state it
/// last entered. When a sibling's failure ends the Parallel or Map, AWS records each state
/// still running as aborted (`TaskStateAborted`, `WaitStateAborted`, `MapStateAborted`,
/// `ParallelStateAborted`; the other types end as soon as they start and have no such event).
#[derive(Debug, Default)]
pub(crate) struct Progress(Mutex<(bool, Option<StateType>)>);

impl Progress {
    fn set(&self, f: impl FnOnce(&mut (bool, Option<StateType>))) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub(crate) fn started(&self) {
        self.set(|p| p.0 = true);
    }

    pub(crate) fn finished(&self) {
        self.set(|p| p.0 = false);
    }

    fn entered(&self, ty: StateType) {
        self.set(|p| p.1 = Some(ty));
    }

    /// Still running: the aborted event of the state it is in, if that type has one.
    pub(crate) fn aborted_event(&self) -> Option<Option<&'static str>> {
        let (running, ty) = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        running.then(|| ty.and_then(aborted_event))
    }
}

/// The event AWS records for a state of type `ty` that a failure elsewhere cut short.
pub(crate) fn aborted_event(ty: StateType) -> Option<&'static str> {
    match ty {
        StateType::Task => Some("TaskStateAborted"),
        StateType::Wait => Some("WaitStateAborted"),
        StateType::Map => Some("MapStateAborted"),
        StateType::Parallel => Some("ParallelStateAborted"),
        _ => None,
    }
}
