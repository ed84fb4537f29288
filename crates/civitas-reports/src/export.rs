//! Tables as CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs read the
//! Vietnamese text) and as XLSX (rust_xlsxwriter): the same cells in both.

use rust_xlsxwriter::{Format, Workbook};

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Number(v as f64)
    }
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Self {
        v.map(Cell::Number).unwrap_or(Cell::Empty)
    }
}

/// A titled table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub title: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

fn csv_field(s: &str) -> String {
    // A leading =, +, - or @ would be a formula in a spreadsheet program: quote it with '.
    let s =
        if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

impl Table {
    pub fn csv(&self) -> String {
        let mut out = String::from("\u{feff}");
        out.push_str(&self.headers.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| match c {
                    Cell::Text(s) => csv_field(s),
                    Cell::Number(v) => number_text(*v),
                    Cell::Empty => String::new(),
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }

    pub fn xlsx(&self) -> Result<Vec<u8>, String> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let name: String = self.title.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect();
        sheet.set_name(if name.trim().is_empty() { "Sheet1" } else { name.trim() }).map_err(|e| e.to_string())?;
        let bold = Format::new().set_bold();
        for (c, h) in self.headers.iter().enumerate() {
            let col = u16::try_from(c).map_err(|e| e.to_string())?;
            sheet.write_string_with_format(0, col, h, &bold).map_err(|e| e.to_string())?;
            sheet.set_column_width(col, if c == 0 { 40 } else { 16 }).map_err(|e| e.to_string())?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).map_err(|e| e.to_string())?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).map_err(|e| e.to_string())?;
                match cell {
                    Cell::Text(s) => sheet.write_string(r, c, s).map(|_| ()),
                    Cell::Number(v) => sheet.write_number(r, c, *v).map(|_| ()),
                    Cell::Empty => Ok(()),
                }
                .map_err(|e| e.to_string())?;
            }
        }
        book.save_to_buffer().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let t = Table {
            title: "t".into(),
            headers: vec!["Chỉ tiêu".into(), "Giá trị".into()],
            rows: vec![
                vec!["a, \"b\"".into(), 3i64.into()],
                vec!["=HYPERLINK(1)".into(), Cell::Number(2.5)],
                vec!["-".into(), Cell::Empty],
            ],
        };
        assert_eq!(t.csv(), "\u{feff}Chỉ tiêu,Giá trị\r\n\"a, \"\"b\"\"\",3\r\n'=HYPERLINK(1),2.5\r\n'-,\r\n");
        let x = t.xlsx().unwrap();
        assert_eq!(&x[..2], b"PK", "an XLSX is a zip file");
    }
}
