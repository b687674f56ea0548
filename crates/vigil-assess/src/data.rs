//! Labelled rows: the contract's feature columns and `label` (a class index or a label name),
//! read by name through `vigil-table`, optionally with a subgroup column.

use std::path::Path;

use vigil_model::Contract;
use vigil_table::{Column, Schema, Table};

use crate::error::AssessError;

/// The name of the label column.
pub const LABEL: &str = "label";

/// Rows of a CSV file with their true classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// The file, for messages.
    pub file: String,
    /// The contract's features of each row, in contract order.
    pub rows: Vec<Vec<f32>>,
    /// The true class of each row (an index into the contract's labels).
    pub labels: Vec<usize>,
    /// The subgroup column's value of each row, when one was asked for.
    pub groups: Option<Vec<String>>,
}

impl Labelled {
    /// Reads `path`: a header naming every contract feature and `label` (other columns are
    /// ignored), then rows; the subgroup column `subgroup`, when given, is read as text. An empty
    /// or non-numeric feature cell, or a label that is neither a class index nor a label name, is
    /// an error naming the line.
    pub fn read(
        path: &Path,
        contract: &Contract,
        subgroup: Option<&str>,
    ) -> Result<Labelled, AssessError> {
        let file = path.display().to_string();
        let mut text = vec![LABEL.to_string()];
        let mut names: Vec<String> = contract.features.iter().map(|f| f.name.clone()).collect();
        names.push(LABEL.to_string());
        if let Some(g) = subgroup {
            if g != LABEL {
                names.push(g.to_string());
                text.push(g.to_string());
            }
        }
        let table = Table::read_path(path, &Schema::only(names).text(text))?;
        Labelled::from_table(&table, &file, contract, subgroup)
    }

    fn from_table(
        table: &Table,
        file: &str,
        contract: &Contract,
        subgroup: Option<&str>,
    ) -> Result<Labelled, AssessError> {
        let n = table.rows();
        if n == 0 {
            return Err(AssessError::Empty {
                file: file.to_string(),
            });
        }
        let width = contract.width();
        let mut rows = vec![Vec::with_capacity(width); n];
        for (j, f) in contract.features.iter().enumerate() {
            let Some(Column::Numeric(col)) = table.columns.get(j) else {
                return Err(AssessError::MissingColumn {
                    file: file.to_string(),
                    column: f.name.clone(),
                });
            };
            for (i, (row, v)) in rows.iter_mut().zip(col).enumerate() {
                if v.is_nan() {
                    return Err(AssessError::Row {
                        file: file.to_string(),
                        line: i + 2,
                        reason: format!("{:?} is empty", f.name),
                    });
                }
                row.push(*v as f32);
            }
        }
        let Some(Column::Categorical(raw)) = table.column(LABEL) else {
            return Err(AssessError::MissingColumn {
                file: file.to_string(),
                column: LABEL.to_string(),
            });
        };
        let mut labels = Vec::with_capacity(n);
        for (i, s) in raw.iter().enumerate() {
            let s = s.trim();
            let class = s
                .parse::<usize>()
                .ok()
                .or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|x| *x >= 0.0 && x.fract() == 0.0 && *x < 1e9)
                        .map(|x| x as usize)
                })
                .filter(|k| *k < contract.labels.len())
                .or_else(|| contract.labels.iter().position(|l| l == s));
            match class {
                Some(c) => labels.push(c),
                None => {
                    return Err(AssessError::Row {
                        file: file.to_string(),
                        line: i + 2,
                        reason: format!(
                            "label {s:?} is neither a class index below {} nor one of {:?}",
                            contract.labels.len(),
                            contract.labels
                        ),
                    })
                }
            }
        }
        let groups = match subgroup {
            None => None,
            Some(g) => match table.column(g) {
                Some(Column::Categorical(v)) => {
                    Some(v.iter().map(|s| s.trim().to_string()).collect())
                }
                _ => Some(labels.iter().map(|l| l.to_string()).collect()),
            },
        };
        Ok(Labelled {
            file: file.to_string(),
            rows,
            labels,
            groups,
        })
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        self.rows.truncate(n);
        self.labels.truncate(n);
        if let Some(g) = &mut self.groups {
            g.truncate(n);
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
