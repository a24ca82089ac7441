//! Database constraint violations in the words of SQLite, PostgreSQL and
//! MySQL, however an ORM wraps them.
//!
//! SQLite: `NOT NULL constraint failed: messages.sender`, `UNIQUE
//! constraint failed: users.email`, `FOREIGN KEY constraint failed`
//! (sqlite.org/rescode.html, SQLITE_CONSTRAINT_*). PostgreSQL: `null value
//! in column "sender" of relation "messages" violates not-null
//! constraint`, `duplicate key value violates unique constraint "…"` with
//! `Key (email)=(…)`, `insert or update on table "messages" violates
//! foreign key constraint "…"` (errcodes 23502, 23505, 23503). MySQL:
//! `Column 'sender' cannot be null` (1048), `Field 'sender' doesn't have a
//! default value` (1364), `Duplicate entry '…' for key 'users.email'`
//! (1062), `Cannot add or update a child row: a foreign key constraint
//! fails (… FOREIGN KEY (`room_id`) …)` (1452). Sequelize: `notNull
//! Violation: Message.sender cannot be null`, `… must be unique`. Prisma:
//! `Null constraint violation on the fields: (`sender`)`, `Unique
//! constraint failed on the fields: (`client_id`)`, `Foreign key constraint
//! failed on the field: `messages_room_id_fkey (index)``. Where only a
//! constraint or index name is given, the column is read from the default
//! naming conventions: PostgreSQL's `{table}_{column}_key` and `_fkey`,
//! Rails' `index_{table}_on_{column}`.

use super::api::{DbError, DbErrorKind};
use super::page::between;

/// The identifier at the start of `text`: `messages.sender` of
/// `messages.sender (19)` or `messages.sender)`.
fn identifier(text: &str) -> &str {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '`' | '"' | '\'')))
        .unwrap_or(text.len());
    &text[..end]
}

/// The column a constraint or index name stands for, by the default naming
/// conventions: `messages_client_id_key` (PostgreSQL, with `table` known or
/// not), `messages_room_id_fkey`, `index_messages_on_client_id` (Rails).
fn column_of_constraint(name: &str, table: Option<&str>) -> Option<String> {
    let name = name.trim_matches(|c: char| c == '`' || c == '"');
    if let Some((_, column)) = name
        .strip_prefix("index_")
        .and_then(|n| n.split_once("_on_"))
    {
        return Some(column.to_owned());
    }
    let stem = ["_fkey", "_key", "_pkey"]
        .iter()
        .find_map(|s| name.strip_suffix(s))?;
    let column = match table {
        Some(t) => stem.strip_prefix(&format!("{t}_"))?,
        None => stem.split_once('_')?.1,
    };
    Some(column.to_owned())
}

/// `table.column` split; a bare name is a column.
fn dotted(name: &str) -> (Option<String>, Option<String>) {
    let name = name.trim_matches(|c: char| c == '`' || c == '"' || c == '\'');
    match name.rsplit_once('.') {
        Some((table, column)) => (Some(table.to_owned()), Some(column.to_owned())),
        None => (None, Some(name.to_owned())),
    }
}

fn error(kind: DbErrorKind, (table, column): (Option<String>, Option<String>)) -> DbError {
    DbError {
        kind,
        table,
        column,
    }
}

/// The constraint violation `text` reports, if it reports one.
pub fn parse(text: &str) -> Option<DbError> {
    use DbErrorKind::{ForeignKey, NotNull, Unique};
    if let Some(rest) = text.split("NOT NULL constraint failed: ").nth(1) {
        return Some(error(NotNull, dotted(identifier(rest))));
    }
    if let Some(fields) = between(text, "Null constraint violation on the fields: (", ")") {
        return Some(error(NotNull, dotted(fields)));
    }
    if let Some(fields) = between(text, "Unique constraint failed on the fields: (", ")") {
        return Some(error(Unique, dotted(fields)));
    }
    if let Some(name) = between(text, "Foreign key constraint failed on the field: `", "`") {
        let column = column_of_constraint(identifier(name), None);
        return Some(error(ForeignKey, (None, column)));
    }
    if let Some(column) = between(text, "null value in column \"", "\"") {
        let table = between(text, "of relation \"", "\"").map(str::to_owned);
        return Some(error(NotNull, (table, Some(column.to_owned()))));
    }
    if let Some(column) = between(text, "Column '", "' cannot be null")
        .or_else(|| between(text, "Field '", "' doesn't have a default value"))
    {
        return Some(error(NotNull, (None, Some(column.to_owned()))));
    }
    if let Some(name) = between(text, "notNull Violation: ", " cannot be null") {
        return Some(error(NotNull, dotted(name)));
    }
    if let Some(rest) = text.split("UNIQUE constraint failed: ").nth(1) {
        return Some(error(Unique, dotted(identifier(rest))));
    }
    if text.contains("violates unique constraint") {
        let column = between(text, "Key (", ")=").map(str::to_owned).or_else(|| {
            let name = between(text, "unique constraint \"", "\"")?;
            column_of_constraint(name, None)
        });
        return Some(error(Unique, (None, column)));
    }
    if let Some(key) =
        between(text, "Duplicate entry '", "'").and_then(|_| between(text, "for key '", "'"))
    {
        let (table, column) = dotted(key);
        let column = column.map(|c| column_of_constraint(&c, None).unwrap_or(c));
        return Some(error(Unique, (table, column)));
    }
    if text.contains("UniqueConstraintError") || text.contains(" must be unique") {
        let column = text
            .rsplit(": ")
            .next()
            .and_then(|m| m.strip_suffix(" must be unique"))
            .map(|c| identifier(c).to_owned());
        return Some(error(Unique, (None, column)));
    }
    if text.contains("FOREIGN KEY constraint failed") {
        return Some(error(ForeignKey, (None, None)));
    }
    if text.contains("violates foreign key constraint") {
        let table = between(text, "on table \"", "\"").map(str::to_owned);
        let column = between(text, "Key (", ")=").map(str::to_owned).or_else(|| {
            let name = between(text, "foreign key constraint \"", "\"")?;
            column_of_constraint(name, table.as_deref())
        });
        return Some(error(ForeignKey, (table, column)));
    }
    if text.contains("a foreign key constraint fails") {
        let column = between(text, "FOREIGN KEY (`", "`)").map(str::to_owned);
        return Some(error(ForeignKey, (None, column)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (DbErrorKind, Option<String>, Option<String>) {
        let e = parse(text).unwrap_or_else(|| panic!("not read: {text}"));
        (e.kind, e.table, e.column)
    }

    #[test]
    fn three_databases_three_constraints() {
        use DbErrorKind::*;
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            read("(sqlite3.IntegrityError) NOT NULL constraint failed: messages.sender\n[SQL: …]"),
            (NotNull, s("messages"), s("sender"))
        );
        assert_eq!(read("null value in column \"sender\" of relation \"messages\" violates not-null constraint"), (NotNull, s("messages"), s("sender")));
        assert_eq!(
            read("(1048, \"Column 'sender' cannot be null\")"),
            (NotNull, None, s("sender"))
        );
        assert_eq!(
            read("Field 'sender' doesn't have a default value"),
            (NotNull, None, s("sender"))
        );
        assert_eq!(
            read("notNull Violation: Message.sender cannot be null"),
            (NotNull, s("Message"), s("sender"))
        );
        assert_eq!(
            read("UNIQUE constraint failed: users.email"),
            (Unique, s("users"), s("email"))
        );
        assert_eq!(read("duplicate key value violates unique constraint \"users_email_key\"\nDETAIL:  Key (email)=(a@b.c) already exists."), (Unique, None, s("email")));
        assert_eq!(
            read("Duplicate entry 'a@b.c' for key 'users.email'"),
            (Unique, s("users"), s("email"))
        );
        assert_eq!(
            read("FOREIGN KEY constraint failed"),
            (ForeignKey, None, None)
        );
        assert_eq!(read("insert or update on table \"messages\" violates foreign key constraint \"m_room_fk\"\nDETAIL:  Key (room_id)=(9) is not present"), (ForeignKey, s("messages"), s("room_id")));
        assert_eq!(read("Cannot add or update a child row: a foreign key constraint fails (`chat`.`messages`, CONSTRAINT `fk` FOREIGN KEY (`room_id`) REFERENCES `rooms` (`id`))"), (ForeignKey, None, s("room_id")));
        assert_eq!(parse("TypeError: x is undefined"), None);
    }
}
