//! The syntax tree produced by the parser (and rewritten by its post-processing stage).

use crate::signature::Signature;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum T {
    #[default]
    End,
    Binary,
    Unary,
    Name,
    Str,
    Num,
    Value,
    Wildcard,
    Descendant,
    Parent,
    Condition,
    Block,
    Bind,
    Regex,
    Function,
    Partial,
    Lambda,
    Variable,
    Apply,
    Transform,
    Path,
    Sort,
    /// An operator token used as an operand: `?` placeholder, or `and`/`or`/`in` as names.
    Operator,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Lit {
    #[default]
    None,
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Clone, Debug)]
pub(crate) enum Stage {
    Filter(Box<Node>),
    Index(String),
}

#[derive(Clone, Debug)]
pub(crate) struct SortTerm {
    pub descending: bool,
    pub expression: Node,
}

#[derive(Clone, Debug)]
#[allow(dead_code)]
pub(crate) struct Group {
    pub pairs: Vec<(Node, Node)>,
    pub position: usize,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    pub t: T,
    /// Operator symbol, name, variable name or literal value.
    pub val: Lit,
    pub position: usize,
    pub lhs: Option<Box<Node>>,
    pub rhs: Option<Box<Node>>,
    pub expressions: Vec<Node>,
    pub pairs: Vec<(Node, Node)>,
    pub terms: Vec<SortTerm>,
    pub arguments: Vec<Node>,
    pub procedure: Option<Box<Node>>,
    pub body: Option<Box<Node>>,
    pub signature: Option<Signature>,
    pub condition: Option<Box<Node>>,
    pub then: Option<Box<Node>>,
    pub els: Option<Box<Node>>,
    pub pattern: Option<Box<Node>>,
    pub update: Option<Box<Node>>,
    pub delete: Option<Box<Node>>,
    pub steps: Vec<Node>,
    pub predicate: Option<Vec<Stage>>,
    pub stages: Option<Vec<Stage>>,
    pub group: Option<Box<Group>>,
    pub focus: Option<String>,
    pub index: Option<String>,
    pub tuple: bool,
    pub ancestor: Option<usize>,
    pub slot: Option<usize>,
    pub seeking_parent: Option<Vec<usize>>,
    pub keep_array: bool,
    pub keep_singleton_array: bool,
    pub consarray: bool,
    pub regex: Option<regex::Regex>,
}

impl Node {
    /// The operator symbol or name carried by the node.
    pub fn s(&self) -> &str {
        match &self.val {
            Lit::Str(s) => s,
            _ => "",
        }
    }
}
