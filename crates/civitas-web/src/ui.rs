//! The design system: the components every page is built from, so that a field, a table, a
//! state or a message looks and behaves the same on every page, and its CSS (`style.css`) is
//! written once. `/dev/style` (development mode) shows each component.
//!
//! Components return [`Markup`]; they take already-translated text so that they know nothing
//! of a page's subject. Accessibility is built in: a field's hint and error are tied to its
//! control with `aria-describedby`, a sortable column says its order with `aria-sort`, a
//! banner is a live region, an error summary takes the focus.

use std::collections::HashMap;

use maud::{Markup, html};

use crate::i18n::{Lang, tr};

/// The colour of a tag or banner: each has a text and a background with AA contrast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Neutral,
    Info,
    Success,
    Warning,
    Danger,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Neutral => "neutral",
            Tone::Info => "info",
            Tone::Success => "success",
            Tone::Warning => "warning",
            Tone::Danger => "danger",
        }
    }
}

/// A short state label (a dossier's state, a delivery's state).
pub(crate) fn tag(tone: Tone, text: &str) -> Markup {
    html! { strong class={ "tag tag-" (tone.class()) } { (text) } }
}

/// A message across the page: a confirmation (`Success`), information, a warning or an error.
/// Errors are announced at once (`role=alert`), the others politely (`role=status`).
pub(crate) fn banner(tone: Tone, id: Option<&str>, title: Option<&str>, body: Markup) -> Markup {
    let role = if tone == Tone::Danger { "alert" } else { "status" };
    html! {
        div class={ "banner banner-" (tone.class()) } role=(role) id=[id] {
            @if let Some(t) = title { p class="banner-title" { (t) } }
            (body)
        }
    }
}

/// The list of a form's errors at the top of the page, each linking to its field.
pub(crate) fn error_summary<F: AsRef<str>, M: AsRef<str>>(lang: Lang, errors: &[(F, M)]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="error-summary" role="alert" tabindex="-1" aria-labelledby="error-title" {
                h2 id="error-title" { (lang.t("error.summary")) }
                ul { @for (field, message) in errors { li { a href={ "#" (field.as_ref()) } { (message.as_ref()) } } } }
            }
        }
    }
}

/// The `aria-describedby` of a control with this hint and error (`None` without either).
pub(crate) fn described_by(id: &str, hint: bool, error: bool) -> Option<String> {
    let ids: Vec<String> =
        [hint.then(|| format!("{id}-hint")), error.then(|| format!("{id}-error"))].into_iter().flatten().collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A form field: label, optional hint, optional error, and its control. `label_for` is the id
/// of the control the label names (the first input of a group); the control should carry
/// [`described_by`] of `id`.
pub(crate) fn field(
    id: &str,
    label_for: &str,
    label: Markup,
    hint: Option<&str>,
    error: Option<&str>,
    control: Markup,
) -> Markup {
    html! {
        div class=(if error.is_some() { "field field-error" } else { "field" }) {
            label for=(label_for) { (label) }
            @if let Some(h) = hint { p class="hint" id={ (id) "-hint" } { (h) } }
            @if let Some(e) = error { p class="error-message" id={ (id) "-error" } { (e) } }
            (control)
        }
    }
}

/// A one-line text input in a [`field`] (`kind`: text, search, tel, email, password).
pub(crate) struct TextInput<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub hint: Option<&'a str>,
    pub error: Option<&'a str>,
    pub autocomplete: Option<&'a str>,
    pub inputmode: Option<&'a str>,
    /// A CSS width class (`w2`, `w4`, `w10`, `w20`), else the full width.
    pub width: Option<&'a str>,
    /// A commune's name: the type-ahead of `civitas.js` enhances it (with the id of the
    /// province select that narrows it, when there is one).
    pub commune: Option<Option<&'a str>>,
}

impl<'a> TextInput<'a> {
    pub(crate) fn new(id: &'a str, label: &'a str, value: &'a str) -> Self {
        TextInput {
            id,
            name: id,
            kind: "text",
            label,
            value,
            hint: None,
            error: None,
            autocomplete: None,
            inputmode: None,
            width: None,
            commune: None,
        }
    }
    pub(crate) fn commune_picker(mut self, province_select: Option<&'a str>) -> Self {
        self.commune = Some(province_select);
        self
    }
    pub(crate) fn name(mut self, name: &'a str) -> Self {
        self.name = name;
        self
    }
    pub(crate) fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }
    pub(crate) fn hint(mut self, hint: Option<&'a str>) -> Self {
        self.hint = hint;
        self
    }
    pub(crate) fn error(mut self, error: Option<&'a str>) -> Self {
        self.error = error;
        self
    }
    pub(crate) fn autocomplete(mut self, v: &'a str) -> Self {
        self.autocomplete = Some(v);
        self
    }
    pub(crate) fn numeric(mut self) -> Self {
        self.inputmode = Some("numeric");
        self
    }
    pub(crate) fn width(mut self, class: &'a str) -> Self {
        self.width = Some(class);
        self
    }
    pub(crate) fn render(&self) -> Markup {
        let described = described_by(self.id, self.hint.is_some(), self.error.is_some());
        let control = html! {
            input type=(self.kind) id=(self.id) name=(self.name) value=(self.value) class=[self.width]
                autocomplete=[self.autocomplete] inputmode=[self.inputmode] aria-describedby=[described]
                aria-invalid=[self.error.map(|_| "true")]
                data-commune=[self.commune.map(|_| "1")] data-province=[self.commune.flatten()];
        };
        field(self.id, self.id, html! { (self.label) }, self.hint, self.error, control)
    }
}

/// A select in a [`field`]: `options` as (value, text), the one equal to `selected` chosen.
pub(crate) fn select(id: &str, label: &str, options: &[(String, String)], selected: Option<&str>) -> Markup {
    field(
        id,
        id,
        html! { (label) },
        None,
        None,
        html! {
            select id=(id) name=(id) {
                @for (value, text) in options { option value=(value) selected[Some(value.as_str()) == selected] { (text) } }
            }
        },
    )
}

/// How a button looks: the main action, a secondary one, or one that destroys or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ButtonKind {
    Primary,
    Secondary,
    Warning,
}

/// A submit button (its `name`/`value` tell the handler which action was chosen).
pub(crate) fn button(kind: ButtonKind, label: &str, name_value: Option<(&str, &str)>) -> Markup {
    let class = match kind {
        ButtonKind::Primary => "button",
        ButtonKind::Secondary => "button button-secondary",
        ButtonKind::Warning => "button button-warning",
    };
    html! {
        @match name_value {
            Some((n, v)) => button type="submit" class=(class) name=(n) value=(v) { (label) },
            None => button type="submit" class=(class) { (label) },
        }
    }
}

/// A link that looks like a button (the start of a journey).
pub(crate) fn button_link(href: &str, label: &str) -> Markup {
    html! { a class="button button-start" href=(href) role="button" draggable="false" { (label) " " span aria-hidden="true" { "→" } } }
}

/// A summary list: key / value rows (a person's facts, a dossier's, the answers to check).
/// A row's value may be marked with an id (tests and screen readers find it).
pub(crate) fn summary_list(id: Option<&str>, rows: &[(&str, Markup)]) -> Markup {
    html! {
        dl class="summary" id=[id] {
            @for (key, value) in rows { div class="summary-row" { dt { (key) } dd { (value) } } }
        }
    }
}

/// One event of a timeline.
pub(crate) struct Event {
    pub when: String,
    pub what: String,
    pub who: Option<String>,
    pub note: Option<String>,
}

/// A vertical timeline, oldest first.
pub(crate) fn timeline(id: &str, events: &[Event]) -> Markup {
    html! {
        ol class="timeline" id=(id) {
            @for e in events {
                li {
                    span class="timeline-when" { (e.when) }
                    strong class="timeline-what" { (e.what) }
                    @if let Some(w) = &e.who { " " span class="timeline-who" { "(" (w) ")" } }
                    @if let Some(n) = &e.note { p class="timeline-note" { (n) } }
                }
            }
        }
    }
}

/// The navigation between the sections of a part of the site (the citizen's, the officer's).
pub(crate) fn sub_nav(label: &str, items: &[(&str, &str)]) -> Markup {
    html! {
        nav class="sub" aria-label=(label) {
            ul { @for (href, text) in items { li { a href=(href) { (text) } } } }
        }
    }
}

/// Which step of a multi-step journey this page is (`Bước 2/3 · Kiểm tra và nộp`).
pub(crate) fn step(lang: Lang, n: u8, of: u8, what: &str) -> Markup {
    html! { p class="step" id="step" { (tr(lang, "Bước", "Step")) " " (n) "/" (of) " · " (what) } }
}

/// One column of a [`Table`].
pub(crate) struct Column<'a> {
    pub label: &'a str,
    pub sortable: bool,
    pub numeric: bool,
}

impl<'a> Column<'a> {
    pub(crate) fn plain(label: &'a str) -> Self {
        Column { label, sortable: false, numeric: false }
    }
    pub(crate) fn sortable(label: &'a str) -> Self {
        Column { label, sortable: true, numeric: false }
    }
}

/// One row: its cells, and per column the key it sorts by (ISO dates sort as text).
pub(crate) struct Row {
    pub cells: Vec<Markup>,
    pub keys: Vec<String>,
}

/// The sort and page a table shows, from the query string (`sort`, `dir`, `page`, each with the
/// table's prefix). Values out of range fall back to the default order and the first page.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableQuery {
    pub sort: Option<usize>,
    pub descending: bool,
    pub page: usize,
}

impl TableQuery {
    pub(crate) fn from_query(query: &HashMap<String, String>, prefix: &str) -> Self {
        let get = |k: &str| query.get(&format!("{prefix}{k}")).map(|v| v.trim());
        TableQuery {
            sort: get("sort").and_then(|v| v.parse().ok()),
            descending: get("dir") == Some("desc"),
            page: get("page").and_then(|v| v.parse::<usize>().ok()).filter(|p| *p >= 1).map_or(0, |p| p - 1),
        }
    }
}

/// The query parameters a table's links keep: all but the table's own.
pub(crate) fn keep_params(query: &HashMap<String, String>, prefix: &str) -> Vec<(String, String)> {
    let own = [format!("{prefix}sort"), format!("{prefix}dir"), format!("{prefix}page")];
    let mut kept: Vec<(String, String)> =
        query.iter().filter(|(k, _)| !own.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    kept.sort();
    kept
}

/// A data table with sortable columns and pages, working without JavaScript: the headers and
/// the pager are links that keep the page's other query parameters.
pub(crate) struct Table<'a> {
    pub id: &'a str,
    pub caption: Option<&'a str>,
    pub columns: Vec<Column<'a>>,
    pub rows: Vec<Row>,
    /// The page's path and the query parameters to keep in the links.
    pub path: &'a str,
    pub keep: Vec<(String, String)>,
    /// The prefix of this table's query parameters (several tables on one page).
    pub prefix: &'a str,
    pub page_size: usize,
}

impl<'a> Table<'a> {
    /// A table shown whole, in the given order (short lists: a household, a history).
    pub(crate) fn simple(id: &'a str, columns: &[&'a str], rows: Vec<Vec<Markup>>) -> Markup {
        Table {
            id,
            caption: None,
            columns: columns.iter().map(|c| Column::plain(c)).collect(),
            rows: rows.into_iter().map(|cells| Row { cells, keys: Vec::new() }).collect(),
            path: "",
            keep: Vec::new(),
            prefix: "",
            page_size: usize::MAX,
        }
        .render(Lang::Vi, &TableQuery::default())
    }

    /// Renders the sort and page the query string asks for (the table's own parameters, by its
    /// prefix), keeping the page's other parameters in its links.
    pub(crate) fn render_for(mut self, lang: Lang, query: &HashMap<String, String>) -> Markup {
        let q = TableQuery::from_query(query, self.prefix);
        self.keep = keep_params(query, self.prefix);
        self.render(lang, &q)
    }

    pub(crate) fn render(mut self, lang: Lang, q: &TableQuery) -> Markup {
        let sort = q.sort.filter(|c| self.columns.get(*c).is_some_and(|col| col.sortable));
        if let Some(c) = sort {
            self.rows.sort_by(|a, b| {
                let (x, y) = (a.keys.get(c), b.keys.get(c));
                if q.descending { y.cmp(&x) } else { x.cmp(&y) }
            });
        }
        let total = self.rows.len();
        let pages = total.div_ceil(self.page_size.max(1)).max(1);
        let page = q.page.min(pages - 1);
        let shown: Vec<Row> =
            self.rows.into_iter().skip(page.saturating_mul(self.page_size)).take(self.page_size).collect();
        let link = |sort: Option<usize>, desc: bool, page: usize| {
            let mut params = self.keep.clone();
            if let Some(s) = sort {
                params.push((format!("{}sort", self.prefix), s.to_string()));
                if desc {
                    params.push((format!("{}dir", self.prefix), "desc".into()));
                }
            }
            if page > 0 {
                params.push((format!("{}page", self.prefix), (page + 1).to_string()));
            }
            let query: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", crate::pages::url_escape(k), crate::pages::url_escape(v)))
                .collect();
            if query.is_empty() {
                format!("{}#{}", self.path, self.id)
            } else {
                format!("{}?{}#{}", self.path, query.join("&"), self.id)
            }
        };
        html! {
            div class="table-wrap" {
                table class="data" id=(self.id) {
                    @if let Some(c) = self.caption { caption { (c) } }
                    thead { tr {
                        @for (i, col) in self.columns.iter().enumerate() {
                            @let order = (sort == Some(i)).then_some(if q.descending { "descending" } else { "ascending" });
                            th scope="col" aria-sort=[order] class=[col.numeric.then_some("numeric")] {
                                @if col.sortable {
                                    a href=(link(Some(i), sort == Some(i) && !q.descending, 0)) {
                                        (col.label)
                                        span class="sort-mark" aria-hidden="true" { (match order { Some("ascending") => " ▲", Some(_) => " ▼", None => " ↕" }) }
                                    }
                                } @else { (col.label) }
                            }
                        }
                    } }
                    tbody {
                        @for row in &shown {
                            tr { @for (i, cell) in row.cells.iter().enumerate() {
                                td class=[self.columns.get(i).is_some_and(|c| c.numeric).then_some("numeric")] { (cell) }
                            } }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav class="pager" aria-label=(tr(lang, "Trang", "Pages")) {
                    @if page > 0 { a rel="prev" href=(link(sort, q.descending, page - 1)) { "‹ " (tr(lang, "Trang trước", "Previous")) } }
                    span aria-current="page" { (tr(lang, "Trang", "Page")) " " (page + 1) "/" (pages) " · " (total) " " (tr(lang, "dòng", "rows")) }
                    @if page + 1 < pages { a rel="next" href=(link(sort, q.descending, page + 1)) { (tr(lang, "Trang sau", "Next")) " ›" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        (1..=30).map(|i| Row { cells: vec![html! { (i) }], keys: vec![format!("{i:03}")] }).collect()
    }

    fn table(rows: Vec<Row>) -> Table<'static> {
        Table {
            id: "t",
            caption: None,
            columns: vec![Column::sortable("N")],
            rows,
            path: "/x",
            keep: vec![("q".into(), "a b".into())],
            prefix: "",
            page_size: 10,
        }
    }

    #[test]
    fn sorts_pages_and_keeps_the_query() {
        let q = TableQuery { sort: Some(0), descending: true, page: 1 };
        let html = table(rows()).render(Lang::En, &q).into_string();
        assert!(
            html.contains("<td>20</td>") && html.contains("<td>11</td>") && !html.contains("<td>21</td>"),
            "{html}"
        );
        assert!(html.contains("aria-sort=\"descending\""));
        assert!(html.contains("Page 2/3"));
        assert!(html.contains("href=\"/x?q=a%20b&amp;sort=0&amp;dir=desc&amp;page=3#t\""), "{html}");
    }

    #[test]
    fn bad_query_values_fall_back() {
        let map: HashMap<String, String> = [("sort", "9"), ("page", "-2"), ("dir", "sideways")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = TableQuery::from_query(&map, "");
        let html = table(rows()).render(Lang::En, &q).into_string();
        assert!(html.contains("<td>1</td>") && html.contains("Page 1/3"), "{html}");
        let far = TableQuery { sort: None, descending: false, page: 99 };
        assert!(table(rows()).render(Lang::En, &far).into_string().contains("Page 3/3"));
        assert!(!table(Vec::new()).render(Lang::En, &far).into_string().contains("pager"));
    }

    #[test]
    fn a_field_ties_its_hint_and_error_to_the_control() {
        let html = TextInput::new("name", "Name", "x")
            .hint(Some("As on the card"))
            .error(Some("Required"))
            .render()
            .into_string();
        assert!(html.contains("aria-describedby=\"name-hint name-error\""), "{html}");
        assert!(html.contains("field-error") && html.contains("aria-invalid=\"true\""));
    }
}
