{#
  Databricks' `streaming_table` and `materialized_view` materializations (dbt-databricks), for
  adapters that have neither (DuckDB; `streaming_table` on any local adapter). Both are rebuilt
  as a plain table from the model's query on every run: a materialized view's data as of the
  run, a streaming table without incremental streaming. A log line says so for each model.
#}

{% materialization streaming_table, default %}
  {{ return(headrace_databricks_as_table('streaming_table', 'a table rebuilt on every run (no incremental streaming)')) }}
{% endmaterialization %}

{% materialization materialized_view, adapter='duckdb' %}
  {{ return(headrace_databricks_as_table('materialized_view', 'a table rebuilt on every run (its data as of the run)')) }}
{% endmaterialization %}

{% macro headrace_databricks_as_table(kind, how) %}
  {{ log("[headrace] model " ~ this ~ ": materialized='" ~ kind ~ "' is a Databricks materialization; on " ~ adapter.type() ~ " it is " ~ how, info=True) }}
  {%- set query = headrace_databricks_sources(sql) -%}
  {%- set existing = load_cached_relation(this) -%}
  {%- set target = this.incorporate(type='table') -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- if existing is not none -%}
    {{ adapter.drop_relation(existing) }}
  {%- endif -%}
  {% call statement('main') -%}
    {{ get_create_table_as_sql(False, target, '/*headrace:databricks-sql*/' ~ query ~ '/*headrace:end*/') }}
  {%- endcall %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target]}) }}
{% endmacro %}

{#
  `[stream] read_files('<path>', format => 'json'|'csv'|'parquet', ...)` (Databricks SQL) read
  with DuckDB's own readers. Paths under /databricks-datasets, dbfs:/ and /Volumes are the data
  directory's (<home>/dbfs/...). Databricks' sample datasets are not shipped with Headrace:
  a path that is not there stops the model with a message naming it.
#}
{% macro headrace_databricks_sources(query) %}
  {%- set pattern = "(?is)(?:\\bstream\\s+)?\\bread_files\\s*\\(\\s*(['\"])(.*?)\\1\\s*((?:,[^()]*)?)\\)" -%}
  {%- set found = modules.re.search(pattern, query) -%}
  {%- if found is none -%}
    {{ return(query) }}
  {%- endif -%}
  {%- set path = found.group(2) -%}
  {%- set options = found.group(3) -%}
  {%- set dbfs = env_var('HEADRACE_HOME', '') ~ '/dbfs' -%}
  {%- set local = path -%}
  {%- if path.startswith('dbfs:/') -%}
    {%- set local = dbfs ~ '/' ~ path[6:].lstrip('/') -%}
  {%- elif path.startswith('/databricks-datasets') or path.startswith('/Volumes/') -%}
    {%- set local = dbfs ~ path -%}
  {%- endif -%}
  {%- if adapter.type() != 'duckdb' -%}
    {{ exceptions.raise_compiler_error("model " ~ this ~ ": read_files is Databricks SQL; Headrace reads it on DuckDB only") }}
  {%- endif -%}
  {%- set glob = local.rstrip('/') ~ '/**' if not modules.re.search("\\.\\w+$", local) else local -%}
  {%- set files = run_query("select count(*) from glob('" ~ glob ~ "')").columns[0].values()[0] if execute else 1 -%}
  {%- if files == 0 -%}
    {%- if path.startswith('/databricks-datasets') -%}
      {{ exceptions.raise_compiler_error("model " ~ this ~ " reads Databricks' sample dataset " ~ path ~ " (read_files): Databricks sample data is not part of Headrace; run `headrace samples install` to write SYNTHETIC stand-ins, put your own files at " ~ local ~ " or point the model at your own data") }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error("model " ~ this ~ ": read_files path " ~ path ~ " does not exist (looked at " ~ local ~ ")") }}
  {%- endif -%}
  {%- set fmt = modules.re.search("(?i)format\\s*=>\\s*['\"]?(\\w+)", options) -%}
  {%- set fmt = (fmt.group(1) if fmt is not none else 'json') | lower -%}
  {%- set reader = {'json': 'read_json_auto', 'csv': 'read_csv_auto', 'parquet': 'read_parquet'}.get(fmt) -%}
  {%- if reader is none -%}
    {{ exceptions.raise_compiler_error("model " ~ this ~ ": read_files format " ~ fmt ~ " is not supported here (json, csv, parquet)") }}
  {%- endif -%}
  {{ return(query[:found.start()] ~ reader ~ "('" ~ glob ~ "')" ~ query[found.end():]) }}
{% endmacro %}
