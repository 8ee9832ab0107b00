//! The evaluator: JSONata's semantics over the processed syntax tree.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::ast::{Lit, Node, Stage, T};
use crate::error::{
    Error, MAX_ARRAY_ITEMS, STACK_MESSAGE, check_string_len, err, err_at, quoted, stack_exhausted,
    stack_position, too_large,
};
use crate::functions::{self, Host, js_str_cmp, merge_sort};
use crate::validate::validate;
use crate::value::{Array, Func, Map, Native, R, Value, deep_equal, numeric, strict_equal};

/// Maximum depth of nested evaluations (protects the native stack).
pub(crate) const MAX_EVAL_DEPTH: usize = 20000;

struct FrameData<'a> {
    parent: Option<usize>,
    vars: Vec<(String, Value<'a>)>,
}

pub(crate) struct Ctx<'a> {
    frames: RefCell<Vec<FrameData<'a>>>,
    labels: &'a [String],
    depth: Cell<usize>,
    stack_base: usize,
    stack_budget: usize,
    pub stack_hit: Cell<bool>,
    now_millis: i64,
    aws: bool,
    rng: RefCell<ChaCha8Rng>,
}

impl<'a> Host<'a> for Ctx<'a> {
    fn apply(&self, f: &Value<'a>, args: Vec<Value<'a>>, input: &Value<'a>) -> R<'a> {
        Ctx::apply(self, f, args, input)
    }

    fn rng(&self) -> RefMut<'_, ChaCha8Rng> {
        self.rng.borrow_mut()
    }

    fn now_millis(&self) -> i64 {
        self.now_millis
    }
}

impl<'a> Ctx<'a> {
    pub fn new(
        labels: &'a [String],
        now_millis: i64,
        aws: bool,
        seed: Option<u64>,
        stack_budget: usize,
    ) -> Self {
        let rng = match seed {
            Some(s) => ChaCha8Rng::seed_from_u64(s),
            None => ChaCha8Rng::from_rng(&mut rand::rng()),
        };
        Ctx {
            frames: RefCell::new(vec![FrameData {
                parent: None,
                vars: Vec::new(),
            }]),
            labels,
            depth: Cell::new(0),
            stack_base: stack_position(),
            stack_budget,
            stack_hit: Cell::new(false),
            now_millis,
            aws,
            rng: RefCell::new(rng),
        }
    }

    pub fn new_frame(&self, parent: usize) -> usize {
        let mut f = self.frames.borrow_mut();
        f.push(FrameData {
            parent: Some(parent),
            vars: Vec::new(),
        });
        f.len() - 1
    }

    pub fn bind(&self, frame: usize, name: &str, value: Value<'a>) {
        let mut f = self.frames.borrow_mut();
        if let Some(fr) = f.get_mut(frame) {
            if let Some(slot) = fr.vars.iter_mut().find(|(n, _)| n == name) {
                slot.1 = value;
            } else {
                fr.vars.push((name.to_string(), value));
            }
        }
    }

    pub fn lookup(&self, frame: usize, name: &str) -> Value<'a> {
        {
            let f = self.frames.borrow();
            let mut cur = Some(frame);
            while let Some(i) = cur {
                let fr = match f.get(i) {
                    Some(fr) => fr,
                    None => break,
                };
                if let Some((_, v)) = fr.vars.iter().find(|(n, _)| n == name) {
                    return v.clone();
                }
                cur = fr.parent;
            }
        }
        match functions::lookup_native(name, self.aws) {
            Some(n) => Value::Func(Rc::new(Func::Native(n))),
            None => Value::Undefined,
        }
    }

    fn frame_from_tuple(&self, env: usize, tuple: &Value<'a>) -> usize {
        let f = self.new_frame(env);
        if let Value::Object(m) = tuple {
            for (k, v) in m.iter() {
                self.bind(f, k, v.clone());
            }
        }
        f
    }

    fn enter(&self) -> Result<(), Error> {
        let d = self.depth.get() + 1;
        if stack_exhausted(self.stack_base, self.stack_budget) {
            self.stack_hit.set(true);
            return Err(err("D1011", STACK_MESSAGE));
        }
        if d > MAX_EVAL_DEPTH {
            return Err(err("D1011", STACK_MESSAGE));
        }
        self.depth.set(d);
        Ok(())
    }

    fn leave(&self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }

    // ------------------------------------------------------------------ evaluate

    pub fn eval(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        self.enter()?;
        let r = self.eval_inner(expr, input, env).and_then(within_ceiling);
        self.leave();
        r
    }

    fn eval_inner(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        let mut result = match expr.t {
            T::Path => self.eval_path(expr, input, env)?,
            T::Binary => self.eval_binary(expr, input, env)?,
            T::Unary => self.eval_unary(expr, input, env)?,
            T::Name => functions::lookup(input, expr.s()),
            T::Str | T::Num | T::Value => match &expr.val {
                Lit::Str(s) => Value::str(s),
                Lit::Num(n) => Value::Number(*n),
                Lit::Bool(b) => Value::Bool(*b),
                Lit::Null => Value::Null,
                Lit::None => Value::Undefined,
            },
            T::Wildcard => self.eval_wildcard(input),
            T::Descendant => eval_descendants(input),
            T::Parent => {
                let label = expr
                    .slot
                    .and_then(|s| self.labels.get(s))
                    .map(String::as_str)
                    .unwrap_or("");
                self.lookup(env, label)
            }
            T::Condition => {
                let c = match &expr.condition {
                    Some(c) => self.eval(c, input, env)?,
                    None => Value::Undefined,
                };
                if functions::boolean(&c)?.unwrap_or(false) {
                    match &expr.then {
                        Some(t) => self.eval(t, input, env)?,
                        None => Value::Undefined,
                    }
                } else if let Some(e) = &expr.els {
                    self.eval(e, input, env)?
                } else {
                    Value::Undefined
                }
            }
            T::Block => {
                let frame = self.new_frame(env);
                let mut r = Value::Undefined;
                for e in &expr.expressions {
                    r = self.eval(e, input, frame)?;
                }
                r
            }
            T::Bind => {
                let v = match &expr.rhs {
                    Some(r) => self.eval(r, input, env)?,
                    None => Value::Undefined,
                };
                let name = expr.lhs.as_ref().map(|l| l.s()).unwrap_or("");
                self.bind(env, name, v.clone());
                v
            }
            T::Regex => match &expr.regex {
                Some(re) => Value::Func(Rc::new(Func::Regex(Rc::new(re.clone())))),
                None => Value::Undefined,
            },
            T::Function => self.eval_function(expr, input, env, None)?,
            T::Variable => {
                if expr.s().is_empty() {
                    match input {
                        Value::Array(a) if a.outer_wrapper => {
                            a.items.first().cloned().unwrap_or(Value::Undefined)
                        }
                        v => v.clone(),
                    }
                } else {
                    self.lookup(env, expr.s())
                }
            }
            T::Lambda => {
                let params = expr.arguments.iter().map(|a| a.s().to_string()).collect();
                match &expr.body {
                    Some(body) => Value::Func(Rc::new(Func::Lambda {
                        node: expr,
                        params,
                        body,
                        input: input.clone(),
                        env,
                        signature: expr.signature.is_some(),
                    })),
                    None => Value::Undefined,
                }
            }
            T::Partial => self.eval_partial(expr, input, env)?,
            T::Apply => self.eval_apply(expr, input, env)?,
            T::Transform => Value::Func(Rc::new(Func::Transform { node: expr, env })),
            T::Sort | T::Operator | T::End => Value::Undefined,
        };

        if let Some(preds) = &expr.predicate {
            for p in preds {
                if let Stage::Filter(pe) = p {
                    result = self.eval_filter(pe, result, env)?;
                }
            }
        }
        if expr.t != T::Path {
            if let Some(g) = &expr.group {
                result = self.eval_group(&g.pairs, result, env)?;
            }
        }
        if let Value::Array(a) = &mut result {
            if a.sequence && !a.tuple_stream {
                if expr.keep_array {
                    Rc::make_mut(a).keep_singleton = true;
                }
                if a.items.is_empty() {
                    return Ok(Value::Undefined);
                } else if a.items.len() == 1 && !a.keep_singleton {
                    return Ok(a.items[0].clone());
                }
            }
        }
        Ok(result)
    }

    fn eval_path(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        let first_is_var = expr.steps.first().is_some_and(|s| s.t == T::Variable);
        let mut input_seq: Value<'a> = match input {
            Value::Array(_) if !first_is_var => input.clone(),
            _ => {
                let mut a = Array::seq();
                a.items.push(input.clone());
                Value::arr(a)
            }
        };
        let mut result_seq = Value::Undefined;
        let mut is_tuple = false;
        let mut tuples: Option<Value<'a>> = None;
        let n = expr.steps.len();
        for (ii, step) in expr.steps.iter().enumerate() {
            if step.tuple {
                is_tuple = true;
            }
            if ii == 0 && step.consarray {
                result_seq = self.eval(step, &input_seq, env)?;
            } else if is_tuple {
                tuples = Some(self.eval_tuple_step(step, &input_seq, tuples.take(), env)?);
            } else {
                result_seq = self.eval_step(step, &input_seq, env, ii == n - 1)?;
            }
            if !is_tuple {
                let empty = match &result_seq {
                    Value::Undefined => true,
                    Value::Array(a) => a.items.is_empty(),
                    _ => false,
                };
                if empty {
                    break;
                }
            }
            if step.focus.is_none() {
                input_seq = result_seq.clone();
            }
        }
        if is_tuple {
            let tb = tuples.clone().unwrap_or(Value::Undefined);
            if expr.tuple {
                result_seq = tb;
            } else {
                let mut a = Array::seq();
                for t in tb.to_items() {
                    if let Value::Object(m) = &t {
                        a.push(m.get("@").cloned().unwrap_or(Value::Undefined));
                    }
                }
                result_seq = Value::arr(a);
            }
        }
        if expr.keep_singleton_array {
            match &mut result_seq {
                Value::Array(a) => {
                    if a.cons && !a.sequence {
                        let mut s = Array::seq();
                        s.items.push(Value::Array(a.clone()));
                        s.keep_singleton = true;
                        result_seq = Value::arr(s);
                    } else {
                        Rc::make_mut(a).keep_singleton = true;
                    }
                }
                Value::Undefined => {}
                other => {
                    // JavaScript sets a property on a non-array, which has no effect
                    let _ = other;
                }
            }
        }
        if let Some(g) = &expr.group {
            let inp = if is_tuple {
                tuples.unwrap_or(Value::Undefined)
            } else {
                result_seq
            };
            result_seq = self.eval_group(&g.pairs, inp, env)?;
        }
        Ok(result_seq)
    }

    fn eval_step(&self, step: &'a Node, input: &Value<'a>, env: usize, last: bool) -> R<'a> {
        if step.t == T::Sort {
            let mut r = self.eval_sort(step, input, env)?;
            if let Some(stages) = &step.stages {
                r = self.eval_stages(stages, r, env)?;
            }
            return Ok(r);
        }
        let mut results: Vec<Value<'a>> = Vec::new();
        let items = match input {
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        };
        for item in items {
            let mut res = self.eval(step, &item, env)?;
            if let Some(stages) = &step.stages {
                for s in stages {
                    if let Stage::Filter(pe) = s {
                        res = self.eval_filter(pe, res, env)?;
                    }
                }
            }
            if !res.is_undefined() {
                results.push(res);
            }
        }
        if last && results.len() == 1 {
            if let Value::Array(a) = &results[0] {
                if !a.sequence {
                    return Ok(results.swap_remove(0));
                }
            }
        }
        let mut out = Array::seq();
        for res in results {
            match res {
                Value::Array(a) if !a.cons => {
                    for v in a.items.iter() {
                        out.items.push(v.clone());
                    }
                }
                v => out.items.push(v),
            }
        }
        Ok(Value::arr(out))
    }

    fn eval_stages(&self, stages: &'a [Stage], input: Value<'a>, env: usize) -> R<'a> {
        let mut result = input;
        for stage in stages {
            match stage {
                Stage::Filter(pe) => result = self.eval_filter(pe, result, env)?,
                Stage::Index(name) => {
                    if let Value::Array(a) = &mut result {
                        let a = Rc::make_mut(a);
                        for (i, t) in a.items.iter_mut().enumerate() {
                            if let Value::Object(m) = t {
                                Rc::make_mut(m).insert(name.clone(), Value::Number(i as f64));
                            }
                        }
                    }
                }
            }
        }
        Ok(result)
    }

    fn eval_tuple_step(
        &self,
        step: &'a Node,
        input: &Value<'a>,
        tuples: Option<Value<'a>>,
        env: usize,
    ) -> R<'a> {
        if step.t == T::Sort {
            let mut result = if let Some(tb) = tuples {
                self.eval_sort(step, &tb, env)?
            } else {
                let sorted = self.eval_sort(step, input, env)?;
                let mut a = Array::seq();
                a.tuple_stream = true;
                for (i, v) in sorted.to_items().into_iter().enumerate() {
                    let mut m = Map::new();
                    m.insert("@".into(), v);
                    if let Some(ix) = &step.index {
                        m.insert(ix.clone(), Value::Number(i as f64));
                    }
                    a.items.push(Value::obj(m));
                }
                Value::arr(a)
            };
            if let Some(stages) = &step.stages {
                result = self.eval_stages(stages, result, env)?;
            }
            return Ok(result);
        }
        let mut out = Array::seq();
        out.tuple_stream = true;
        let bindings: Vec<Value<'a>> = match tuples {
            Some(t) => t.to_items(),
            None => input
                .to_items()
                .into_iter()
                .map(|item| {
                    let mut m = Map::new();
                    m.insert("@".into(), item);
                    Value::obj(m)
                })
                .collect(),
        };
        for tb in bindings {
            let step_env = self.frame_from_tuple(env, &tb);
            let tmap = match &tb {
                Value::Object(m) => m.clone(),
                _ => Rc::new(Map::new()),
            };
            let at = tmap.get("@").cloned().unwrap_or(Value::Undefined);
            let res = self.eval(step, &at, step_env)?;
            if res.is_undefined() {
                continue;
            }
            let (items, res_tuple) = match &res {
                Value::Array(a) => (a.items.clone(), a.tuple_stream),
                v => (vec![v.clone()], false),
            };
            for (bb, item) in items.into_iter().enumerate() {
                let mut tuple: Map<'a> = (*tmap).clone();
                if res_tuple {
                    if let Value::Object(m) = &item {
                        for (k, v) in m.iter() {
                            tuple.insert(k.clone(), v.clone());
                        }
                    }
                } else {
                    if let Some(f) = &step.focus {
                        tuple.insert(f.clone(), item);
                        tuple.insert("@".into(), at.clone());
                    } else {
                        tuple.insert("@".into(), item);
                    }
                    if let Some(ix) = &step.index {
                        tuple.insert(ix.clone(), Value::Number(bb as f64));
                    }
                    if let Some(anc) = step.ancestor {
                        if let Some(label) = self.labels.get(anc) {
                            tuple.insert(label.clone(), at.clone());
                        }
                    }
                }
                out.items.push(Value::obj(tuple));
            }
        }
        let mut result = Value::arr(out);
        if let Some(stages) = &step.stages {
            result = self.eval_stages(stages, result, env)?;
        }
        Ok(result)
    }

    fn eval_filter(&self, pred: &'a Node, input: Value<'a>, env: usize) -> R<'a> {
        let tuple_stream = matches!(&input, Value::Array(a) if a.tuple_stream);
        let mut results = Array::seq();
        results.tuple_stream = tuple_stream;
        let items = match &input {
            Value::Array(a) => a.items.clone(),
            Value::Undefined => vec![],
            v => vec![v.clone()],
        };
        if pred.t == T::Num {
            let n = match pred.val {
                Lit::Num(n) => n,
                _ => 0.0,
            };
            let mut index = n.floor();
            if index < 0.0 {
                index += items.len() as f64;
            }
            if index >= 0.0 {
                if let Some(item) = items.get(index as usize) {
                    if let Value::Array(_) = item {
                        return Ok(item.clone());
                    }
                    results.items.push(item.clone());
                }
            }
            return Ok(Value::arr(results));
        }
        let len = items.len() as f64;
        for (index, item) in items.iter().enumerate() {
            let (context, fenv) = if tuple_stream {
                let at = match item {
                    Value::Object(m) => m.get("@").cloned().unwrap_or(Value::Undefined),
                    _ => Value::Undefined,
                };
                (at, self.frame_from_tuple(env, item))
            } else {
                (item.clone(), env)
            };
            let res = self.eval(pred, &context, fenv)?;
            let nums: Option<Vec<f64>> = match &res {
                Value::Number(n) => Some(vec![*n]),
                Value::Array(a) if !a.items.is_empty() => a
                    .items
                    .iter()
                    .map(|v| v.num())
                    .collect::<Option<Vec<f64>>>(),
                _ => None,
            };
            if let Some(nums) = nums {
                for n in nums {
                    if !n.is_finite() {
                        return Err(err("D1001", "Number out of range"));
                    }
                    let mut ii = n.floor();
                    if ii < 0.0 {
                        ii += len;
                    }
                    if ii == index as f64 {
                        results.items.push(item.clone());
                    }
                }
            } else if functions::boolean(&res)? == Some(true) {
                results.items.push(item.clone());
            }
        }
        Ok(Value::arr(results))
    }

    fn eval_binary(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        let (l, r) = match (&expr.lhs, &expr.rhs) {
            (Some(l), Some(r)) => (l, r),
            _ => return Ok(Value::Undefined),
        };
        let op = expr.s();
        let lhs = self.eval(l, input, env)?;
        if op == "and" || op == "or" {
            return self.eval_and_or(op, &lhs, r, input, env);
        }
        let rhs = self.eval(r, input, env)?;
        let at = expr.position;
        match op {
            "+" | "-" | "*" | "/" | "%" => arithmetic(op, &lhs, &rhs, at),
            "=" | "!=" => Ok(equality(op, &lhs, &rhs)),
            "<" | "<=" | ">" | ">=" => comparison(op, &lhs, &rhs, at),
            "&" => concatenation(&lhs, &rhs, at),
            ".." => range(&lhs, &rhs, at),
            "in" => Ok(membership(&lhs, &rhs)),
            _ => Err(err_at("S0201", format!("Unknown operator {op}"), at)),
        }
    }

    /// `and` / `or`: the right side is evaluated only when the left one does not decide.
    fn eval_and_or(
        &self,
        op: &str,
        lhs: &Value<'a>,
        r: &'a Node,
        input: &Value<'a>,
        env: usize,
    ) -> R<'a> {
        let lb = functions::boolean(lhs)?.unwrap_or(false);
        let res = if op == "and" {
            lb && functions::boolean(&self.eval(r, input, env)?)?.unwrap_or(false)
        } else {
            lb || functions::boolean(&self.eval(r, input, env)?)?.unwrap_or(false)
        };
        Ok(Value::Bool(res))
    }

    fn eval_unary(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        match expr.s() {
            "-" => {
                let v = match &expr.lhs {
                    Some(e) => self.eval(e, input, env)?,
                    None => Value::Undefined,
                };
                match v {
                    Value::Undefined => Ok(Value::Undefined),
                    Value::Number(n) if !n.is_nan() => {
                        if n.is_infinite() {
                            return Err(err_at("D1001", "Number out of range", expr.position));
                        }
                        Ok(Value::Number(-n))
                    }
                    other => Err(err_at(
                        "D1002",
                        format!(
                            "Cannot negate a non-numeric value: {}",
                            crate::value::json_text(&other)
                                .unwrap_or_else(|| "undefined".to_string())
                        ),
                        expr.position,
                    )),
                }
            }
            "[" => {
                let mut result: Value<'a> = Value::plain(vec![]);
                for item in &expr.expressions {
                    let v = self.eval(item, input, env)?;
                    if v.is_undefined() {
                        continue;
                    }
                    if item.t == T::Unary && item.s() == "[" {
                        if let Value::Array(a) = &mut result {
                            Rc::make_mut(a).items.push(v);
                        }
                    } else {
                        result = functions::append(result, v);
                    }
                }
                if expr.consarray {
                    if let Value::Array(a) = &mut result {
                        Rc::make_mut(a).cons = true;
                    }
                }
                Ok(result)
            }
            "{" => self.eval_group(&expr.pairs, input.clone(), env),
            _ => Ok(Value::Undefined),
        }
    }

    fn eval_wildcard(&self, input: &Value<'a>) -> Value<'a> {
        let mut input = input.clone();
        if let Value::Array(a) = &input {
            if a.outer_wrapper && !a.items.is_empty() {
                input = a.items[0].clone();
            }
        }
        let mut results: Value<'a> = Value::seq(vec![]);
        let values: Vec<Value<'a>> = match &input {
            Value::Object(m) => m.values().cloned().collect(),
            // JavaScript arrays are objects too: their values are the items
            Value::Array(a) => a.items.clone(),
            _ => Vec::new(),
        };
        {
            for v in values.iter() {
                if let Value::Array(_) = v {
                    let mut flat = Vec::new();
                    flatten(v, &mut flat);
                    results = functions::append(results, Value::plain(flat));
                } else if let Value::Array(a) = &mut results {
                    Rc::make_mut(a).items.push(v.clone());
                }
            }
        }
        results
    }

    fn eval_group(&self, pairs: &'a [(Node, Node)], input: Value<'a>, env: usize) -> R<'a> {
        let reduce = matches!(&input, Value::Array(a) if a.tuple_stream);
        let mut items: Vec<Value<'a>> = match &input {
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        };
        if items.is_empty() && !reduce {
            items.push(Value::Undefined);
        }
        // key -> (data, expr index)
        let mut groups: Vec<(String, Value<'a>, usize)> = Vec::new();
        for item in &items {
            let ienv = if reduce {
                self.frame_from_tuple(env, item)
            } else {
                env
            };
            let ctx_item = if reduce {
                match item {
                    Value::Object(m) => m.get("@").cloned().unwrap_or(Value::Undefined),
                    _ => Value::Undefined,
                }
            } else {
                item.clone()
            };
            for (pi, (kexpr, _)) in pairs.iter().enumerate() {
                let key = self.eval(kexpr, &ctx_item, ienv)?;
                let key = match key {
                    Value::Undefined => continue,
                    Value::String(s) => s.to_string(),
                    _ => {
                        return Err(err_at(
                            "T1003",
                            "Key in object structure must evaluate to a string",
                            kexpr.position,
                        ));
                    }
                };
                if let Some(g) = groups.iter_mut().find(|g| g.0 == key) {
                    if g.2 != pi {
                        return Err(err_at(
                            "D1009",
                            format!("Multiple key definitions evaluate to same key: {key:?}"),
                            kexpr.position,
                        ));
                    }
                    let data = std::mem::replace(&mut g.1, Value::Undefined);
                    g.1 = functions::append(data, item.clone());
                } else {
                    groups.push((key, item.clone(), pi));
                }
            }
        }
        let mut result = Map::new();
        for (key, data, pi) in groups {
            let (context, genv) = if reduce {
                let tuple = reduce_tuple_stream(&data);
                let at = tuple.get("@").cloned().unwrap_or(Value::Undefined);
                let mut t = tuple;
                t.shift_remove("@");
                (at, self.frame_from_tuple(env, &Value::obj(t)))
            } else {
                (data, env)
            };
            let vexpr = match pairs.get(pi) {
                Some(p) => &p.1,
                None => continue,
            };
            let v = self.eval(vexpr, &context, genv)?;
            if !v.is_undefined() {
                result.insert(key, v);
            }
        }
        Ok(Value::obj(result))
    }

    fn eval_sort(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        let is_tuple = matches!(input, Value::Array(a) if a.tuple_stream);
        let items = match input {
            Value::Array(a) => {
                if a.items.len() <= 1 {
                    return Ok(input.clone());
                }
                a.items.clone()
            }
            Value::Undefined => return Ok(Value::Undefined),
            v => return Ok(v.clone()),
        };
        let term_value = |v: &Value<'a>, e: &'a Node| -> R<'a> {
            if is_tuple {
                let at = match v {
                    Value::Object(m) => m.get("@").cloned().unwrap_or(Value::Undefined),
                    _ => Value::Undefined,
                };
                let f = self.frame_from_tuple(env, v);
                self.eval(e, &at, f)
            } else {
                self.eval(e, v, env)
            }
        };
        let mut cmp = |a: &Value<'a>, b: &Value<'a>| -> Result<bool, Error> {
            let mut comp = 0i32;
            for term in &expr.terms {
                if comp != 0 {
                    break;
                }
                let aa = term_value(a, &term.expression)?;
                let bb = term_value(b, &term.expression)?;
                if aa.is_undefined() {
                    comp = if bb.is_undefined() { 0 } else { 1 };
                    continue;
                }
                if bb.is_undefined() {
                    comp = -1;
                    continue;
                }
                let ok = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
                if !ok(&aa) || !ok(&bb) {
                    return Err(err_at(
                        "T2008",
                        "The expressions within an order-by clause must evaluate to numeric or string values",
                        expr.position,
                    ));
                }
                let ord = match (&aa, &bb) {
                    (Value::Number(x), Value::Number(y)) => {
                        x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal)
                    }
                    (Value::String(x), Value::String(y)) => js_str_cmp(x, y),
                    _ => {
                        return Err(err_at(
                            "T2007",
                            "Type mismatch when comparing values in order-by clause",
                            expr.position,
                        ));
                    }
                };
                comp = match ord {
                    std::cmp::Ordering::Equal => continue,
                    std::cmp::Ordering::Less => -1,
                    std::cmp::Ordering::Greater => 1,
                };
                if term.descending {
                    comp = -comp;
                }
            }
            Ok(comp == 1)
        };
        let sorted = merge_sort(items, &mut cmp)?;
        Ok(Value::plain(sorted))
    }

    // ------------------------------------------------------------------ functions

    fn eval_function(
        &self,
        expr: &'a Node,
        input: &Value<'a>,
        env: usize,
        applyto: Option<Value<'a>>,
    ) -> R<'a> {
        let proc_node = match &expr.procedure {
            Some(p) => p,
            None => return Ok(Value::Undefined),
        };
        let proc = self.eval(proc_node, input, env)?;
        if proc.is_undefined() && proc_node.t == T::Path {
            if let Some(first) = proc_node.steps.first() {
                if !self.lookup(env, first.s()).is_undefined() {
                    return Err(err_at(
                        "T1005",
                        format!(
                            "Attempted to invoke a non-function. Did you mean ${}?",
                            first.s()
                        ),
                        expr.position,
                    ));
                }
            }
        }
        let mut args = Vec::with_capacity(expr.arguments.len() + 1);
        if let Some(c) = applyto {
            args.push(c);
        }
        for a in &expr.arguments {
            args.push(self.eval(a, input, env)?);
        }
        self.apply(&proc, args, input).map_err(|mut e| {
            if e.position.is_none() {
                e.position = Some(expr.position);
            }
            e
        })
    }

    fn eval_partial(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        let mut args: Vec<Option<Value<'a>>> = Vec::new();
        for a in &expr.arguments {
            if a.t == T::Operator && a.s() == "?" {
                args.push(None);
            } else {
                args.push(Some(self.eval(a, input, env)?));
            }
        }
        let proc_node = match &expr.procedure {
            Some(p) => p,
            None => return Ok(Value::Undefined),
        };
        let proc = self.eval(proc_node, input, env)?;
        if proc.is_undefined() && proc_node.t == T::Path {
            if let Some(first) = proc_node.steps.first() {
                if !self.lookup(env, first.s()).is_undefined() {
                    return Err(err_at(
                        "T1007",
                        "Attempted to partially apply a non-function",
                        expr.position,
                    ));
                }
            }
        }
        let not_a_function = || {
            err_at(
                "T1008",
                "Attempted to partially apply a non-function",
                expr.position,
            )
        };
        let Value::Func(f) = &proc else {
            return Err(not_a_function());
        };
        let partial = match &**f {
            Func::Lambda {
                node,
                params,
                body,
                input: li,
                env: lenv,
                ..
            } => self.partial_lambda(node, params, body, li, *lenv, &args),
            Func::Native(n) => partial_native(*n, &args),
            Func::PartialNative { native, args: prev } => {
                // a partial of a partial: fill the placeholders in order
                let mut it = args.into_iter();
                let full = prev
                    .iter()
                    .map(|p| match p {
                        Some(v) => Some(v.clone()),
                        None => it.next().unwrap_or(Some(Value::Undefined)),
                    })
                    .collect();
                Func::PartialNative {
                    native: *native,
                    args: full,
                }
            }
            _ => return Err(not_a_function()),
        };
        Ok(Value::Func(Rc::new(partial)))
    }

    /// A lambda with the supplied arguments bound and the `?` placeholders left as parameters.
    fn partial_lambda(
        &self,
        node: &'a Node,
        params: &[String],
        body: &'a Node,
        input: &Value<'a>,
        env: usize,
        args: &[Option<Value<'a>>],
    ) -> Func<'a> {
        let frame = self.new_frame(env);
        let mut unbound = Vec::new();
        for (i, p) in params.iter().enumerate() {
            match args.get(i) {
                Some(None) => unbound.push(p.clone()),
                Some(Some(v)) => self.bind(frame, p, v.clone()),
                None => self.bind(frame, p, Value::Undefined),
            }
        }
        Func::Lambda {
            node,
            params: unbound,
            body,
            input: input.clone(),
            env: frame,
            signature: false,
        }
    }

    fn eval_apply(&self, expr: &'a Node, input: &Value<'a>, env: usize) -> R<'a> {
        let (l, r) = match (&expr.lhs, &expr.rhs) {
            (Some(l), Some(r)) => (l, r),
            _ => return Ok(Value::Undefined),
        };
        let lhs = self.eval(l, input, env)?;
        if r.t == T::Function {
            return self.eval_function(r, input, env, Some(lhs));
        }
        let func = self.eval(r, input, env)?;
        if !func.is_function() {
            return Err(err_at(
                "T2006",
                "The right side of the function application operator ~> must be a function",
                expr.position,
            ));
        }
        if lhs.is_function() {
            return Ok(Value::Func(Rc::new(Func::Chain { f: lhs, g: func })));
        }
        self.apply(&func, vec![lhs], &Value::Null)
    }

    /// Applies a function value to arguments; `input` is the context for `-` signatures.
    pub fn apply(&self, proc: &Value<'a>, args: Vec<Value<'a>>, input: &Value<'a>) -> R<'a> {
        let f = match proc {
            Value::Func(f) => f.clone(),
            _ => return Err(err("T1006", "Attempted to invoke a non-function")),
        };
        self.enter()?;
        let r = self.apply_inner(&f, args, input);
        self.leave();
        r
    }

    fn apply_inner(&self, f: &Rc<Func<'a>>, args: Vec<Value<'a>>, input: &Value<'a>) -> R<'a> {
        match &**f {
            Func::Lambda {
                node,
                params,
                body,
                input: li,
                env,
                signature,
                ..
            } => {
                let args = match (&node.signature, signature) {
                    (Some(sig), true) => validate(sig, &args, input)?,
                    _ => args,
                };
                let frame = self.new_frame(*env);
                for (i, p) in params.iter().enumerate() {
                    self.bind(frame, p, args.get(i).cloned().unwrap_or(Value::Undefined));
                }
                self.eval(body, li, frame)
            }
            Func::Native(n) => {
                let builtin = functions::builtin(*n);
                let args = validate(builtin.signature(), &args, input)?;
                (builtin.run)(self, &args)
            }
            Func::PartialNative {
                native,
                args: bound,
            } => {
                let mut it = args.into_iter();
                let full: Vec<Value<'a>> = bound
                    .iter()
                    .map(|b| match b {
                        Some(v) => v.clone(),
                        None => it.next().unwrap_or(Value::Undefined),
                    })
                    .collect();
                (functions::builtin(*native).run)(self, &full)
            }
            Func::Transform { node, env } => {
                let arg = args.into_iter().next().unwrap_or(Value::Undefined);
                match &arg {
                    Value::Undefined => Ok(Value::Undefined),
                    Value::Object(_) | Value::Array(_) => self.transform(node, arg, *env),
                    _ => Err(err(
                        "T0410",
                        "Argument 1 of function transform does not match function signature",
                    )),
                }
            }
            Func::Chain { f, g } => {
                let x = args.into_iter().next().unwrap_or(Value::Undefined);
                let y = self.apply(f, vec![x], &Value::Undefined)?;
                self.apply(g, vec![y], &Value::Undefined)
            }
            Func::Regex(re) => {
                let s = match args.first() {
                    Some(Value::String(s)) => s.clone(),
                    _ => return Ok(Value::Undefined),
                };
                let mut it = functions::RegexIter::new(re.clone(), s);
                match it.next_match()? {
                    Some(m) => Ok(m.to_value()),
                    None => Ok(Value::Undefined),
                }
            }
        }
    }

    fn transform(&self, node: &'a Node, obj: Value<'a>, env: usize) -> R<'a> {
        let cloned = functions::clone_value(&obj)?;
        let pattern = match &node.pattern {
            Some(p) => p,
            None => return Ok(cloned),
        };
        let matches = self.eval(pattern, &cloned, env)?;
        let matches = match matches {
            Value::Undefined => return Ok(cloned),
            Value::Array(a) => a.items.clone(),
            v => vec![v],
        };
        // updates keyed by object identity
        let mut updates: Vec<Update<'a>> = Vec::new();
        for m in &matches {
            let update = match &node.update {
                Some(u) => self.eval(u, m, env)?,
                None => Value::Undefined,
            };
            let upd = match update {
                Value::Undefined => None,
                Value::Object(o) => Some(o),
                _ => {
                    return Err(err_at(
                        "T2011",
                        "The insert/update clause of the transform expression must evaluate to an object",
                        node.update.as_ref().map(|u| u.position).unwrap_or(0),
                    ));
                }
            };
            let mut dels = Vec::new();
            if let Some(d) = &node.delete {
                let deletions = self.eval(d, m, env)?;
                if !deletions.is_undefined() {
                    for x in deletions.to_items() {
                        match x {
                            Value::String(s) => dels.push(s.to_string()),
                            _ => {
                                return Err(err_at(
                                    "T2012",
                                    "The delete clause of the transform expression must evaluate to a string or array of strings",
                                    d.position,
                                ));
                            }
                        }
                    }
                }
            }
            if let Value::Object(o) = m {
                updates.push((Rc::as_ptr(o), upd, dels));
            }
        }
        Ok(rebuild(&cloned, &updates))
    }
}

type Update<'a> = (*const Map<'a>, Option<Rc<Map<'a>>>, Vec<String>);

/// A built-in with the supplied arguments filled in up to its arity (`None`: a placeholder).
fn partial_native<'a>(n: Native, args: &[Option<Value<'a>>]) -> Func<'a> {
    let arity = functions::builtin(n).arity;
    let full = (0..arity)
        .map(|i| match args.get(i) {
            Some(None) => None,
            Some(Some(v)) => Some(v.clone()),
            None => Some(Value::Undefined),
        })
        .collect();
    Func::PartialNative {
        native: n,
        args: full,
    }
}

fn rebuild<'a>(v: &Value<'a>, updates: &[Update<'a>]) -> Value<'a> {
    match v {
        Value::Object(o) => {
            let ptr = Rc::as_ptr(o);
            let mut m: Map<'a> = o
                .iter()
                .map(|(k, x)| (k.clone(), rebuild(x, updates)))
                .collect();
            for (p, upd, dels) in updates {
                if *p == ptr {
                    if let Some(u) = upd {
                        for (k, x) in u.iter() {
                            m.insert(k.clone(), x.clone());
                        }
                    }
                    for d in dels {
                        m.shift_remove(d);
                    }
                }
            }
            Value::obj(m)
        }
        Value::Array(a) => {
            let mut b = (**a).clone();
            b.items = a.items.iter().map(|x| rebuild(x, updates)).collect();
            Value::arr(b)
        }
        other => other.clone(),
    }
}

fn reduce_tuple_stream<'a>(data: &Value<'a>) -> Map<'a> {
    let items = match data {
        Value::Array(a) => a.items.clone(),
        v => vec![v.clone()],
    };
    let mut result = match items.first() {
        Some(Value::Object(m)) => (**m).clone(),
        _ => Map::new(),
    };
    for t in items.iter().skip(1) {
        if let Value::Object(m) = t {
            for (k, v) in m.iter() {
                let prev = result.get(k).cloned().unwrap_or(Value::Undefined);
                result.insert(k.clone(), functions::append(prev, v.clone()));
            }
        }
    }
    result
}

fn flatten<'a>(v: &Value<'a>, out: &mut Vec<Value<'a>>) {
    match v {
        Value::Array(a) => {
            for x in a.items.iter() {
                flatten(x, out);
            }
        }
        x => out.push(x.clone()),
    }
}

fn eval_descendants<'a>(input: &Value<'a>) -> Value<'a> {
    if input.is_undefined() {
        return Value::Undefined;
    }
    let mut out = Vec::new();
    recurse_descendants(input, &mut out);
    if out.len() == 1 {
        return out.swap_remove(0);
    }
    Value::seq(out)
}

fn recurse_descendants<'a>(input: &Value<'a>, out: &mut Vec<Value<'a>>) {
    match input {
        Value::Array(a) => {
            for x in a.items.iter() {
                recurse_descendants(x, out);
            }
        }
        Value::Object(m) => {
            out.push(input.clone());
            for (_, v) in m.iter() {
                recurse_descendants(v, out);
            }
        }
        v => out.push(v.clone()),
    }
}

/// Every value an evaluation step produces stays under the memory ceiling: strings of at most
/// [`crate::error::MAX_STRING_BYTES`], arrays of at most [`MAX_ARRAY_ITEMS`] items. A runaway
/// expression (a string doubled in a recursion) ends with `D2014` at the first step over it.
fn within_ceiling(v: Value<'_>) -> R<'_> {
    match &v {
        Value::String(s) => check_string_len(s.len())?,
        Value::Array(a) if a.items.len() > MAX_ARRAY_ITEMS => {
            return Err(too_large(
                "an array",
                a.items.len(),
                MAX_ARRAY_ITEMS,
                "items",
            ));
        }
        _ => {}
    }
    Ok(v)
}

/// `e` raised at the operator at `position`.
fn at_operator(position: usize) -> impl Fn(Error) -> Error {
    move |e| Error {
        position: Some(position),
        ..e
    }
}

/// `+ - * / %`: undefined when a side is; each side must be a number.
fn arithmetic<'a>(op: &str, lhs: &Value<'a>, rhs: &Value<'a>, position: usize) -> R<'a> {
    let ln = numeric(lhs).map_err(at_operator(position))?;
    if !lhs.is_undefined() && ln.is_none() {
        return Err(err_at(
            "T2001",
            format!(
                "The left side of the {} operator must evaluate to a number",
                quoted(op)
            ),
            position,
        ));
    }
    let rn = numeric(rhs).map_err(at_operator(position))?;
    if !rhs.is_undefined() && rn.is_none() {
        return Err(err_at(
            "T2002",
            format!(
                "The right side of the {} operator must evaluate to a number",
                quoted(op)
            ),
            position,
        ));
    }
    match (ln, rn) {
        (Some(a), Some(b)) => Ok(Value::Number(match op {
            "+" => a + b,
            "-" => a - b,
            "*" => a * b,
            "/" => a / b,
            _ => a % b,
        })),
        _ => Ok(Value::Undefined),
    }
}

/// `=` / `!=`: both false when a side is undefined.
fn equality<'a>(op: &str, lhs: &Value<'a>, rhs: &Value<'a>) -> Value<'a> {
    if lhs.is_undefined() || rhs.is_undefined() {
        return Value::Bool(false);
    }
    let eq = deep_equal(lhs, rhs);
    Value::Bool(if op == "=" { eq } else { !eq })
}

/// A comparison's operand (a number or a string) as the reference's messages show it.
fn operand_text(v: &Value) -> String {
    match v {
        Value::String(s) => quoted(s),
        Value::Number(n) => crate::value::js_number_to_string(*n),
        _ => String::new(),
    }
}

/// `< <= > >=` over two numbers or two strings; undefined when a side is.
fn comparison<'a>(op: &str, lhs: &Value<'a>, rhs: &Value<'a>, position: usize) -> R<'a> {
    let comparable =
        |v: &Value| matches!(v, Value::Undefined | Value::String(_) | Value::Number(_));
    if !comparable(lhs) || !comparable(rhs) {
        return Err(err_at(
            "T2010",
            format!(
                "The expressions either side of operator {} must evaluate to numeric or string values",
                quoted(op)
            ),
            position,
        ));
    }
    if lhs.is_undefined() || rhs.is_undefined() {
        return Ok(Value::Undefined);
    }
    let ord = match (lhs, rhs) {
        // jsonata compares numbers with JavaScript's operators and no `isNumeric`
        // check, so Infinity compares (`1/0 > 2` is true) instead of raising D1001.
        (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
        (Value::String(a), Value::String(b)) => Some(js_str_cmp(a, b)),
        _ => {
            return Err(err_at(
                "T2009",
                format!(
                    "The values {} and {} either side of operator {} must be of the same data type",
                    operand_text(lhs),
                    operand_text(rhs),
                    quoted(op)
                ),
                position,
            ));
        }
    };
    use std::cmp::Ordering::*;
    let res = match (op, ord) {
        (_, None) => false,
        ("<", Some(o)) => o == Less,
        ("<=", Some(o)) => o != Greater,
        (">", Some(o)) => o == Greater,
        (_, Some(o)) => o != Less,
    };
    Ok(Value::Bool(res))
}

/// `&`: both sides as strings, an undefined side skipped.
fn concatenation<'a>(lhs: &Value<'a>, rhs: &Value<'a>, position: usize) -> R<'a> {
    let mut s = String::new();
    if !lhs.is_undefined() {
        s.push_str(&functions::string(lhs, false).map_err(at_operator(position))?);
    }
    if !rhs.is_undefined() {
        s.push_str(&functions::string(rhs, false).map_err(at_operator(position))?);
    }
    check_string_len(s.len()).map_err(at_operator(position))?;
    Ok(Value::string(s))
}

/// `..`: the integers from the left side to the right one, at most 1e7 of them; undefined
/// when a side is or when the left is greater.
fn range<'a>(lhs: &Value<'a>, rhs: &Value<'a>, position: usize) -> R<'a> {
    let is_int = |v: &Value| matches!(v, Value::Number(n) if n.fract() == 0.0 && n.is_finite());
    if !lhs.is_undefined() && !is_int(lhs) {
        return Err(err_at(
            "T2003",
            "The left side of the range operator (..) must evaluate to an integer",
            position,
        ));
    }
    if !rhs.is_undefined() && !is_int(rhs) {
        return Err(err_at(
            "T2004",
            "The right side of the range operator (..) must evaluate to an integer",
            position,
        ));
    }
    let (a, b) = match (lhs.num(), rhs.num()) {
        (Some(a), Some(b)) => (a, b),
        _ => return Ok(Value::Undefined),
    };
    if a > b {
        return Ok(Value::Undefined);
    }
    let size = b - a + 1.0;
    if size > 1e7 {
        return Err(err_at(
            "D2014",
            format!(
                "The size of the sequence allocated by the range operator (..) must not exceed 1e7.  Attempted to allocate {}.",
                crate::value::js_number_to_string(size)
            ),
            position,
        ));
    }
    let mut arr = Array::seq();
    let mut x = a;
    while x <= b {
        arr.items.push(Value::Number(x));
        x += 1.0;
    }
    Ok(Value::arr(arr))
}

/// `in`: the left side equals an item of the right one (false when a side is undefined: an
/// undefined right side has no items, and nothing is strictly equal to undefined).
fn membership<'a>(lhs: &Value<'a>, rhs: &Value<'a>) -> Value<'a> {
    let items = rhs.to_items();
    Value::Bool(items.iter().any(|v| strict_equal(v, lhs)))
}
