{#-
    DuckDB spills what exceeds memory_limit to its temp_directory: by default `<database>.tmp` beside the file.
    A configured folder (var pintel_duckdb_temp_directory, from PINTEL_DUCKDB_TEMP_DIRECTORY through
    pintel.settings) is set here once per run, and only where it differs: DuckDB refuses any SET of
    temp_directory once something has spilled, even to the same folder, which is why the profile's per-cursor
    `settings` do not carry it. Other engines manage their own spill space: nothing to do there.
-#}
{% macro set_spill_folder() -%}
    {%- set wanted = var('pintel_duckdb_temp_directory', env_var('PINTEL_DUCKDB_TEMP_DIRECTORY', '')) -%}
    {%- if execute and target.type == 'duckdb' and wanted -%}
        {%- set current = run_query("select current_setting('temp_directory')").columns[0].values()[0] -%}
        {%- if current != wanted -%}
            {%- do run_query("set temp_directory = '" ~ (wanted | replace("'", "''")) ~ "'") -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
