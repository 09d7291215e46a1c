CREATE SCHEMA "group";
CREATE TABLE "group"."select" AS
SELECT customer_id AS "from", owner_id AS "where", rank, name, deal_total AS "table", tags AS "union",
       json_object('select', json_object('from', custom_fields ->> 'importance')) AS "json",
       next_followup_on AS "when", country_code AS table_
FROM crm.customers;
