//! What opening a store does with its schema, on either backend.

/// Whether opening a store brings its schema up to date or only checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaPolicy {
    /// Apply the migrations this deskline has and the database lacks.
    #[default]
    Migrate,
    /// Change nothing; fail with [`crate::StoreError::SchemaBehind`] if a migration is missing
    /// (`deskline serve --no-migrate`, when an operator applies migrations with
    /// `deskline migrate`).
    RequireCurrent,
}
