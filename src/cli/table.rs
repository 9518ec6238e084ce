//! Plain-text tables for the operator commands: columns padded to their widest cell, two
//! spaces apart, no trailing blanks. Cells are shown as text, control characters replaced, so
//! that a name someone chose cannot move the cursor or colour the operator's terminal.

use std::fmt;

/// A table: an optional header line, then rows of cells.
#[derive(Debug, Default)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first line names the columns.
    pub fn with_header<const N: usize>(header: [&str; N]) -> Self {
        Self { header: Some(header.iter().map(|h| (*h).to_owned()).collect()), rows: Vec::new() }
    }

    /// Label–value lines, for one record.
    pub fn pairs() -> Self {
        Self::default()
    }

    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.rows.push(cells.into_iter().map(|c| printable(c.as_ref())).collect());
        self
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&Vec<String>> = self.header.iter().chain(&self.rows).collect();
        let columns = lines.iter().map(|line| line.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|i| lines.iter().filter_map(|line| line.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
            .collect();
        for line in lines {
            let mut text = String::new();
            for (i, cell) in line.iter().enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                if i + 1 < line.len() {
                    text.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
                }
            }
            writeln!(f, "{}", text.trim_end())?;
        }
        Ok(())
    }
}

/// The text with every control character (newlines and escapes included) shown as `?`.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The text cut to `max` characters, an ellipsis marking the cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_their_headers_without_trailing_blanks() {
        let mut table = Table::with_header(["EMAIL", "ROLE", "NAME"]);
        table.row(["ann@example.com", "admin", ""]).row(["bo@example.com", "user", "Bo"]);

        assert_eq!(
            table.to_string(),
            "EMAIL            ROLE   NAME\nann@example.com  admin\nbo@example.com   user   Bo\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut table = Table::pairs();
        table.row(["name", "Jürgen"]).row(["id", "7"]);

        assert_eq!(table.to_string(), "name  Jürgen\nid    7\n");
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        let mut table = Table::pairs();
        table.row(["name", "evil\u{1b}[31m\nred"]);

        assert_eq!(table.to_string(), "name  evil?[31m?red\n");
    }

    #[test]
    fn long_text_is_shortened_with_an_ellipsis() {
        assert_eq!(shorten("connection refused", 10), "connectio…");
        assert_eq!(shorten("short", 10), "short");
    }
}
