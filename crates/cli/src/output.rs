//! What the operating commands print: aligned tables for people, one JSON document for scripts
//! (`--json`, stable camelCase field names).

use serde::Serialize;

use crate::error::CliError;

/// A table of text cells whose columns are aligned on the widest cell (in characters).
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra cells are dropped).
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The header and rows, columns separated by two spaces, no trailing blanks.
    pub fn render(&self) -> String {
        let width = |i: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                let pad = widths[i].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
            format!("{}\n", out.trim_end())
        };
        let mut text = line(&self.header);
        for r in &self.rows {
            text.push_str(&line(r));
        }
        text
    }
}

/// `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Unavailable(format!("cannot print JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A cell for an optional value: the value, or `—`.
pub fn or_dash(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_cells_of_different_widths_then_columns_align_on_the_widest() {
        let mut t = Table::new(&["name", "status"]);
        t.row(vec!["a".into(), "SUCCEEDED".into()]);
        t.row(vec!["längere-zeile".into(), "—".into()]);
        t.row(vec!["short".into()]);
        assert_eq!(
            t.render(),
            "name           status\na              SUCCEEDED\nlängere-zeile  —\nshort\n"
        );
    }
}
