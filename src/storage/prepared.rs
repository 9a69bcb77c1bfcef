//! Hand-written statements that are prepared once per connection.
//!
//! diesel never caches `sql_query` text, so every run of one is parsed (and on
//! PostgreSQL analysed and planned) again; on the message write path that was
//! a large share of the database's work per batch. A [`Stmt`] is fixed SQL text with
//! one `?` per bind, in order: diesel's statement cache keys it by that text
//! and reuses the server-side prepared statement.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// One bound value with its SQL type.
pub struct Bind<'v, ST, V: ?Sized>(&'v V, PhantomData<ST>);

pub fn bind<ST, V: ?Sized>(value: &V) -> Bind<'_, ST, V> {
    Bind(value, PhantomData)
}

/// The binds of a statement: a tuple of [`Bind`]s, pushed in order.
pub trait Binds<DB: Backend> {
    fn push<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, DB>,
        rest: &mut std::str::Split<'static, char>,
    ) -> QueryResult<()>;
}

macro_rules! binds_for_tuple {
    ($($ty:ident $val:ident $idx:tt),+) => {
        impl<'v, DB: Backend, $($ty, $val: ?Sized),+> Binds<DB> for ($(Bind<'v, $ty, $val>,)+)
        where
            $(DB: HasSqlType<$ty>, $val: ToSql<$ty, DB>,)+
        {
            fn push<'b>(
                &'b self,
                out: &mut AstPass<'_, 'b, DB>,
                rest: &mut std::str::Split<'static, char>,
            ) -> QueryResult<()> {
                $(
                    out.push_bind_param::<$ty, $val>(self.$idx.0)?;
                    out.push_sql(rest.next().unwrap_or(""));
                )+
                Ok(())
            }
        }
    };
}

binds_for_tuple!(A0 V0 0);
binds_for_tuple!(A0 V0 0, A1 V1 1);
binds_for_tuple!(A0 V0 0, A1 V1 1, A2 V2 2);
binds_for_tuple!(A0 V0 0, A1 V1 1, A2 V2 2, A3 V3 3);
binds_for_tuple!(A0 V0 0, A1 V1 1, A2 V2 2, A3 V3 3, A4 V4 4);
binds_for_tuple!(A0 V0 0, A1 V1 1, A2 V2 2, A3 V3 3, A4 V4 4, A5 V5 5);
binds_for_tuple!(A0 V0 0, A1 V1 1, A2 V2 2, A3 V3 3, A4 V4 4, A5 V5 5, A6 V6 6);
binds_for_tuple!(A0 V0 0, A1 V1 1, A2 V2 2, A3 V3 3, A4 V4 4, A5 V5 5, A6 V6 6, A7 V7 7);
binds_for_tuple!(A0 V0 0, A1 V1 1, A2 V2 2, A3 V3 3, A4 V4 4, A5 V5 5, A6 V6 6, A7 V7 7, A8 V8 8);

/// Fixed SQL with a `?` where each bind goes; load its rows with `QueryableByName`.
pub struct Stmt<B> {
    sql: &'static str,
    binds: B,
}

pub fn stmt<B>(sql: &'static str, binds: B) -> Stmt<B> {
    debug_assert!(!sql.contains('$'), "use ? for binds: {sql}");
    Stmt { sql, binds }
}

impl<DB: Backend, B: Binds<DB>> QueryFragment<DB> for Stmt<B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // Not calling `unsafe_to_cache_prepared`: the text never changes, so
        // diesel may key its statement cache by it.
        let mut pieces = self.sql.split('?');
        out.push_sql(pieces.next().unwrap_or(""));
        self.binds.push(&mut out, &mut pieces)?;
        debug_assert!(pieces.next().is_none(), "more ? than binds: {}", self.sql);
        Ok(())
    }
}

impl<B> QueryId for Stmt<B> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> Query for Stmt<B> {
    type SqlType = Untyped;
}

impl<B, Conn> RunQueryDsl<Conn> for Stmt<B> {}
