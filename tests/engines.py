"""The engines the test suite executes on: DuckDB, PostgreSQL 15, Snowflake through fakesnow, and
Spark. Each loads the same typed fixture rows (segc.warehouse) and runs SQL in its own dialect.

PostgreSQL: $SEGC_TEST_PG_DSN names a server to use; otherwise a throwaway cluster is started in a
temp folder on 127.0.0.1 and a free port (as the `postgres` OS user when running as root).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp

from segc.dialects import Dialect, get_dialect
from segc.warehouse import Table


class Unavailable(Exception):
    """The engine cannot run here (no server binaries, no Java...)."""


class Engine:
    name: str
    dialect: Dialect

    def load(self, tables: list[Table], schema: str = "crm") -> None:
        raise NotImplementedError

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        self.query(sql)

    def close(self) -> None:
        pass

    def ident(self, name: str) -> str:
        return self.dialect.identifier(name).sql(dialect=self.dialect.sqlglot_dialect)


# ---------------------------------------------------------------------------------------------
# DuckDB


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self) -> None:
        import duckdb

        self.dialect = get_dialect("duckdb")
        self.con = duckdb.connect()

    def load(self, tables: list[Table], schema: str = "crm") -> None:
        from segc.warehouse import create_table_sql

        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.ident(schema)}")
        for t in tables:
            self.con.execute(create_table_sql(schema, t, "duckdb").replace("CREATE TABLE", "CREATE OR REPLACE TABLE", 1))
            insert_arrow(self.con, f"{self.ident(schema)}.{self.ident(t.name)}", t)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        self.con.close()


def insert_arrow(con, target: str, t: Table) -> None:
    """Bulk-insert rows into a DuckDB table through an Arrow table (executemany is far slower)."""
    import pyarrow as pa

    types = {"int": pa.int64(), "text": pa.string(), "decimal": pa.decimal128(18, 2), "bool": pa.bool_(),
             "date": pa.date32(), "timestamp": pa.timestamp("ms"), "text[]": pa.list_(pa.string()), "json": pa.string()}
    columns = {}
    for i, (name, ty) in enumerate(t.columns):
        values = [r[i] for r in t.rows]
        if ty == "json":
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        columns[name] = pa.array(values, type=types[ty])
    source = pa.table(columns)  # noqa: F841 - read by DuckDB's replacement scan below
    con.execute(f"INSERT INTO {target} SELECT * FROM source")


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """A throwaway PostgreSQL cluster; stopped and removed by stop()."""

    def __init__(self) -> None:
        if not shutil.which("initdb") or not shutil.which("pg_ctl"):
            raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not on PATH")
        self.root = Path(tempfile.mkdtemp(prefix="segc-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                   "-E", "UTF8", "--locale", "C"])
        opts = f"-p {self.port} -k {self.root} -h 127.0.0.1 -c fsync=off -c full_page_writes=off -c TimeZone=UTC"
        self._run(["pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w", "start"])
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr or done.stdout}")

    def stop(self) -> None:
        try:
            self._run(["pg_ctl", "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


PG_TYPES = {"int": "BIGINT", "text": "TEXT", "decimal": "NUMERIC(18, 2)", "bool": "BOOLEAN", "date": "DATE",
            "timestamp": "TIMESTAMP", "text[]": "TEXT[]", "json": "JSONB"}


class PostgresEngine(Engine):
    name = "postgres"

    def __init__(self, dsn: str, database: str | None = None) -> None:
        import psycopg

        self.dialect = get_dialect("postgres")
        self.dsn = dsn
        if database:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self.ident(database)}".encode())
                admin.execute(f"CREATE DATABASE {self.ident(database)}".encode())
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            parts = conninfo_to_dict(dsn)
            parts["dbname"] = database
            self.dsn = make_conninfo(**parts)
        self.con = psycopg.connect(self.dsn, autocommit=True)

    def load(self, tables: list[Table], schema: str = "crm") -> None:
        from psycopg.types.json import Jsonb

        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.ident(schema)}".encode())
        for t in tables:
            cols = ", ".join(f"{self.ident(c)} {PG_TYPES[ty]}" for c, ty in t.columns)
            target = f"{self.ident(schema)}.{self.ident(t.name)}"
            self.con.execute(f"DROP TABLE IF EXISTS {target}".encode())
            self.con.execute(f"CREATE TABLE {target} ({cols})".encode())
            with self.con.cursor() as cur:
                with cur.copy(f"COPY {target} FROM STDIN".encode()) as copy:
                    for r in t.rows:
                        copy.write_row([Jsonb(v) if ty == "json" and v is not None else v
                                        for v, (_, ty) in zip(r, t.columns)])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(sql.encode())
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        self.con.close()


# ---------------------------------------------------------------------------------------------
# Snowflake (fakesnow: Snowflake SQL re-parsed by sqlglot and run on DuckDB)


SF_TYPES = {"int": "NUMBER(38, 0)", "text": "VARCHAR", "decimal": "NUMBER(18, 2)", "bool": "BOOLEAN",
            "date": "DATE", "timestamp": "TIMESTAMP_NTZ", "text[]": "ARRAY", "json": "VARIANT"}


class SnowflakeEngine(Engine):
    name = "snowflake"

    def __init__(self) -> None:
        try:
            import fakesnow
            import snowflake.connector
        except ImportError as exc:  # pragma: no cover - a test dependency
            raise Unavailable(f"fakesnow is not installed: {exc}") from None
        self.dialect = get_dialect("snowflake")
        self._patch = fakesnow.patch()
        self._patch.__enter__()
        self.con = snowflake.connector.connect(database="SEGC", schema="PUBLIC")
        self.list_tables: dict[tuple[str, str], tuple[str, exp.Expression]] = {}

    def load(self, tables: list[Table], schema: str = "crm") -> None:
        cur = self.con.cursor()
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.ident(schema)}")
        for t in tables:
            cols = ", ".join(f"{self.ident(c)} {SF_TYPES[ty]}" for c, ty in t.columns)
            target = f"{self.ident(schema)}.{self.ident(t.name)}"
            cur.execute(f"CREATE OR REPLACE TABLE {target} ({cols})")
            self._remember_lists(schema, t)
            if not t.rows:
                continue
            if all(ty not in ("json", "text[]") for _, ty in t.columns):
                # plain columns: straight into the DuckDB database behind the emulator
                duck = self.con._duck_conn
                insert_arrow(duck, f'"SEGC".{self.ident(schema)}.{self.ident(t.name)}', t)
                continue
            rows = [exp.Tuple(expressions=[self._literal(v, ty) for v, (_, ty) in zip(r, t.columns)]) for r in t.rows]
            select = exp.select(*[self._cast(f"column{i + 1}", ty) for i, (_, ty) in enumerate(t.columns)]).from_(
                exp.Values(expressions=rows))
            cur.execute(f"INSERT INTO {target} {select.sql(dialect='snowflake')}")

    @staticmethod
    def _literal(v: Any, ty: str) -> exp.Expression:
        if v is None:
            return exp.null()
        if ty in ("json", "text[]"):
            return exp.Literal.string(json.dumps(v, ensure_ascii=False))
        if isinstance(v, bool):
            return exp.Boolean(this=v)
        if isinstance(v, (int, Decimal)):
            return exp.Literal.number(str(v))
        if isinstance(v, (dt.date, dt.datetime)):
            return exp.Literal.string(v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v.isoformat())
        return exp.Literal.string(v)

    @staticmethod
    def _cast(column: str, ty: str) -> exp.Expression:
        col = exp.column(column)
        if ty in ("json", "text[]"):
            return exp.func("PARSE_JSON", col)
        return exp.cast(col, exp.DataType.build(SF_TYPES[ty], dialect="snowflake"))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        cur = self.con.cursor()
        cur.execute(self._with_literal_arrays(sql))
        return cur.fetchall() if cur.description else []

    def close(self) -> None:
        self.con.close()
        self._patch.__exit__(None, None, None)

    # fakesnow stores ARRAY columns as JSON, on which Snowflake's array functions fail. The SQL
    # segc emits is kept as it is; only the tables with list columns are read through a CTE that
    # puts the same values back as literal arrays (ARRAY_CONSTRUCT), on which they work.

    def _remember_lists(self, schema: str, t: Table) -> None:
        lists = [i for i, (_, ty) in enumerate(t.columns) if ty == "text[]"]
        key = (self.dialect.normalize(schema), self.dialect.normalize(t.name))
        self.list_tables.pop(key, None)
        if not lists or not t.rows:
            return
        key = self.dialect.normalize(t.columns[0][0])
        names = [self.dialect.normalize(t.columns[i][0]) for i in lists]
        values = [exp.Tuple(expressions=[exp.Literal.number(r[0])] + [
            exp.null() if r[i] is None else exp.func("ARRAY_CONSTRUCT", *map(exp.Literal.string, r[i]))
            for i in lists]) for r in t.rows]
        literal = exp.select(exp.column("column1").as_("__K", quoted=True), *(
            exp.column(f"column{j + 2}").as_(n, quoted=True) for j, n in enumerate(names))).from_(exp.Values(expressions=values))
        tbl = exp.Table(this=exp.to_identifier(self.dialect.normalize(t.name), quoted=True),
                        db=exp.to_identifier(self.dialect.normalize(schema), quoted=True))
        star = exp.Star(**{"except_": [exp.to_identifier(n, quoted=True) for n in names]})
        body = exp.select(exp.Column(this=star, table=exp.to_identifier("T", quoted=True)),
                          *(exp.column(n, "L", quoted=True) for n in names)).from_(tbl.as_("T", quoted=True)).join(
            exp.Subquery(this=literal, alias=exp.TableAlias(this=exp.to_identifier("L", quoted=True))),
            on=exp.EQ(this=exp.column("__K", "L", quoted=True), expression=exp.column(key, "T", quoted=True)),
            join_type="LEFT")
        self.list_tables[(tbl.db, tbl.name)] = (f"{tbl.db}__{tbl.name}__LISTS", body)

    def _with_literal_arrays(self, sql: str) -> str:
        if not self.list_tables:
            return sql
        import sqlglot

        tree = sqlglot.parse_one(sql, read="snowflake")
        used = {}
        for table in tree.find_all(exp.Table):
            hit = self.list_tables.get((table.db, table.name))
            if hit:
                used[hit[0]] = hit[1]
                alias = table.args.get("alias")
                table.replace(exp.Table(this=exp.to_identifier(hit[0], quoted=True), alias=alias))
        if not used:
            return sql
        target = tree.expression if isinstance(tree, exp.Create) else tree
        for name, body in used.items():
            target = target.with_(exp.to_identifier(name, quoted=True), as_=body.copy(), copy=False)
        if isinstance(tree, exp.Create):
            tree.set("expression", target)
        else:
            tree = target
        return tree.sql(dialect="snowflake")


# ---------------------------------------------------------------------------------------------
# Spark (a local pyspark session; one per test run)


class SparkEngine(Engine):
    name = "spark"
    _session = None

    def __init__(self) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise Unavailable(f"pyspark is not installed: {exc}") from None
        if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
            raise Unavailable("Spark needs Java (java on PATH or JAVA_HOME)")
        self.dialect = get_dialect("spark")
        self.tmp = Path(tempfile.mkdtemp(prefix="segc-spark-"))
        if SparkEngine._session is None:
            SparkEngine._session = (
                SparkSession.builder.master("local[2]").appName("segc-tests")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.sql.warehouse.dir", str(self.tmp / "warehouse"))
                .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={self.tmp}")
                .getOrCreate())
            SparkEngine._session.sparkContext.setLogLevel("ERROR")
        self.spark = SparkEngine._session

    def load(self, tables: list[Table], schema: str = "crm") -> None:
        from pyspark.sql import types as T

        spark_types = {"int": T.LongType(), "text": T.StringType(), "decimal": T.DecimalType(18, 2),
                       "bool": T.BooleanType(), "date": T.DateType(), "timestamp": T.TimestampNTZType(),
                       "text[]": T.ArrayType(T.StringType()), "json": T.StringType()}
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.ident(schema)}")
        for t in tables:
            struct = T.StructType([T.StructField(c, spark_types[ty], True) for c, ty in t.columns])
            rows = [tuple(json.dumps(v, ensure_ascii=False) if ty == "json" and v is not None else v
                          for v, (_, ty) in zip(r, t.columns)) for r in t.rows]
            df = self.spark.createDataFrame(rows, struct)
            df.write.mode("overwrite").saveAsTable(f"{schema}.{t.name}")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def start(name: str, pg_dsn: str | None = None) -> Engine:
    if name == "duckdb":
        return DuckDBEngine()
    if name == "postgres":
        assert pg_dsn is not None
        return PostgresEngine(pg_dsn, database=f"segc_test_{os.getpid()}_{_free_port()}")
    if name == "snowflake":
        return SnowflakeEngine()
    if name == "spark":
        return SparkEngine()
    raise ValueError(name)
