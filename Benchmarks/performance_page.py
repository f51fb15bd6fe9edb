"""docs/performance.md from a run of Benchmarks/run: the figures, each with the command that
produced it and what it measures, and the goals of the issues next to this run's figures."""
import os
import subprocess
import time


def _table(figures, keep):
    return "\n".join(f"| `{name}` | {value} |" for name, value in figures.items() if keep(name))


def _rows(rows):
    return "\n".join("- " + " / ".join(str(value) for value in row) for row in rows)


def _goal(figures, name, comparison, target):
    value = figures.get(name)
    if value is None:
        return f"| `{name}` | {comparison} {target} | not measured in this run |"
    met = float(value) >= target if comparison == "≥" else float(value) <= target
    return f"| `{name}` | {comparison} {target} | {value}: {'met' if met else '**not met**'} |"


def _machine():
    with open("/proc/cpuinfo") as file:
        model = next(line.split(": ", 1)[1].strip() for line in file if line.startswith("model name"))
    with open("/proc/meminfo") as file:
        kib = next(int(line.split()[1]) for line in file if line.startswith("MemTotal"))
    rabbit = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "rabbitmq-server"], capture_output=True,
                            text=True).stdout
    postgres = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: [int(p) for p in v.split(".")])[-1]
    return model, round(kib / 1048576), rabbit, postgres


def render(figures, files, sizes, commit, invocation, goals):
    model, memory, rabbit, postgres = _machine()
    cores = os.cpu_count()
    rounds, count = sizes["ROUNDS"], sizes["COUNT"]
    pipeline_count, pipeline_rounds, services = sizes["PIPELINE_COUNT"], sizes["PIPELINE_ROUNDS"], sizes["SERVICES"]
    lines, invoices = files["domain-counts"]
    billing = [(f"postgres {c}" if s == "postgres" else str(c), *values) for s, c, values in files["billing"]]
    return f"""# Performance

Figures from the last `Benchmarks/run` on the development machine ({model}, {cores} cores,
{memory} GiB), with a local RabbitMQ {rabbit} started by the script. Run on
{time.strftime("%Y-%m-%d", time.gmtime())} at commit {commit}: `{invocation}Benchmarks/run`.

Figures move with the host: the same code has measured half as fast on a busier or slower
machine of the same size. Compare a figure with its baseline in the same run (the relay, the C
client), and across runs only with the processor named above.

## Goals

| figure | goal | this run |
| --- | --- | --- |
{chr(10).join(_goal(figures, *goal) for goal in goals)}

## AMQP client against rabbitmq-c

Command: `ROUNDS={rounds} COUNT={count} Benchmarks/run`.

{count} persistent messages of 256 bytes to a quorum queue through the default exchange,
publisher confirms with 1000 in flight, then consumed with prefetch 1000 and one
acknowledgement per message. The baseline is `Benchmarks/amqp-baseline/baseline.c`, a tight
single-threaded loop over rabbitmq-c 0.11; the Swift side is `Benchmarks/AMQPThroughput`
through `AMQPClient`: one `publish` call per message, and (`batched`) one call per 100
messages, the way an outbox relay publishes; `for await` over the deliveries. C and
Swift alternate round by round; each figure is the median of {rounds} rounds, in messages per
second. The broker shares the machine's two cores with the client, so single rounds vary by
±30 %.

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith("amqp_"))}

Rounds (C publish / Swift publish / Swift publish batched / C consume / Swift consume):
{_rows(files["amqp"])}

## Worker stores: inbox + change + outbox transactions

Command: `ROUNDS={rounds} STORE_COUNT={sizes["STORE_COUNT"]} Benchmarks/run`.

`Benchmarks/StoreThroughput` commits {sizes["STORE_COUNT"]} units of work to a rating store, each one
message's effects: its id into the inbox, a usage increment (exact decimal), one outbox row.
"Batched" commits 100 units per transaction with a savepoint each (a repeat still skips only
its own unit). SQLite is a WAL file on the local disk with `synchronous=FULL` (the store sets
it: GRDB opens WAL pools with NORMAL); PostgreSQL {postgres} runs on loopback with its default durable commits. Medians of {rounds}
rounds, in messages per second.

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith("store_"))}

Rounds (SQLite / SQLite batched / PostgreSQL / PostgreSQL batched):
{_rows(files["store"])}

## Rating against a relay on the same broker

Command: `PIPELINE_ROUNDS={pipeline_rounds} PIPELINE_COUNT={pipeline_count} SERVICES={services} Benchmarks/run`.

Each round preloads {pipeline_count} `usage.record` commands (persistent, publisher-confirmed)
for {services} PAYG services of one tenant, then starts one rating worker (release build,
SQLite with `synchronous=FULL`): each message decoded and validated, rated into its month,
committed with its inbox id and its usage total before it is acknowledged, a batch's usage
(up to 1,000, the rating worker's batch) named in one `usage.rated` per tenant and 250 records, written to the outbox in the same
transaction (the interface lets one event carry many records), the outbox published with
confirms; the worker decides a batch while the batch before it commits (docs/architecture.md,
"Deciding ahead of a commit"; since 2026-11-27's second run). The baseline is
`PipelineBenchmark relay`: the same bodies preloaded, consumed with the worker's prefetch and
batch size, each published on through the events exchange (a topic exchange, as the worker's
`usage.rated`) with confirms and acknowledged once confirmed, no database and no logic. (Runs
before 2026-11-26's last published through the default exchange, which routes more cheaply:
18,007/s against 16,165/s through the events exchange in one pair of rounds that day.) A consumer of the output counts usage from its first message to its last (for rating,
the records of the `usage.rated` events; before 2026-11-27 rating published one event per usage,
and the broker spent about 18 CPU seconds on a 200,000-event round, as on the relay's). The relay
stays one message out per message in: what the broker gives a worker that publishes an event per
command. Medians of
{pipeline_rounds} rounds, in events per second.

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith(("rating_events", "relay_events", "rating_vs")))}

With the worker on a local PostgreSQL 15 instead (`COVENANT_DATABASE_URL`, a database of its
own, default durable commits; one round of {pipeline_count} events, between the rounds above and
the replicas below): `rating_postgres_events_per_s` {figures["rating_postgres_events_per_s"]}.

Rounds (rating / relay / the broker's CPU seconds during the rating round / during the relay
round):
{_rows(files["pipeline"])}

The rating worker's work without the broker (`PipelineBenchmark in-process DIR {services} 100000`:
the same commands decoded, checked against the inbox, rated and committed in batches of 1,000 on
SQLite with `synchronous=FULL`, the outbox rows claimed and deleted as the relay does; one batch
after another, without the worker's overlap of a decision with the commit before it), wall
time per event by phase and the process's CPU time per event, one run:
{_rows([line] for line in files["in-process"])}

Replicas ({sizes["REPLICA_COUNT"]} events each, one SQLite file shared by the replicas, {cores} cores shared
with the broker), drawn in [rating-replicas.svg](rating-replicas.svg):

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith("rating_") and n[7:8].isdigit())}

## Usage latency

Command: `LATENCY_SECONDS={sizes["LATENCY_SECONDS"]} Benchmarks/run`. One rating worker; `usage.record`
published at a steady 1,000 per second (10 every 10 ms) for {sizes["LATENCY_SECONDS"]} s; each timed from
its publish to the arrival of the `usage.rated` naming it at a consumer bound to the events
exchange.

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith("usage_latency"))}

## Invoice lines composed by the domain

Command: `DOMAIN_CUSTOMERS={sizes["DOMAIN_CUSTOMERS"]} Benchmarks/run`. `Benchmarks/DomainBenchmark`: {sizes["DOMAIN_CUSTOMERS"]}
customer ledgers (a 12-month contract from mid-month with a discount, PAYG usage on two metrics
with graduated prices every month), billed month by month for 13 runs on one core, exact
rational arithmetic throughout: {lines} lines on {invoices} invoices. The median of
{rounds} runs (a single run moves with whatever else the host does).

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith("domain_"))}

Rounds (lines per second): {" / ".join(row[0] for row in files["domain"])}

## Documents

Command: `DOCUMENTS_COUNT={sizes["DOCUMENTS_COUNT"]} Benchmarks/run` (`PipelineBenchmark invoices` and
`PipelineBenchmark typeset`). {sizes["DOCUMENTS_COUNT"]} `invoice.ready` of eight lines each, in
the example tenant's brand (config/examples/tenant.json: its SVG logo, address, CGST and SGST),
queued before the documents worker starts (release, SQLite, one warm Typst process per core);
`documents_per_s` is the rate of `invoice.document_ready` from the first to the last, each
after the invoice's HTML and PDF were rendered and committed. `typesetter_alone_per_s`: the
same documents' data straight into {cores} warm typesetters at once, as the worker feeds
them, with nothing else. Peak resident memory (VmHWM) of the worker and of its largest
typesetter process. The median of {rounds} rounds.

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith(("documents_", "typesetter_")))}

Rounds (worker / typesetter alone, documents per second):
{_rows(files["documents"])}

## Billing day

Command: `BILLING_CUSTOMERS="{sizes["BILLING_CUSTOMERS"]}" POSTGRES_BILLING_CUSTOMERS="{sizes["POSTGRES_BILLING_CUSTOMERS"]}" Benchmarks/run`
(`Benchmarks/billing-run`, and `COVENANT_CLUSTER_STORAGE=postgres Benchmarks/billing-run`).
A local cluster of the five workers (release, SQLite, one replica each; `billing_run_postgres_*`:
on a local PostgreSQL 15, a schema per worker, as `compose/` deploys it); every customer has a
12-month contract and a PAYG service with two usage records, every tenth a monthly usage
commitment. Once the input has settled, one `billing.run`; the figure is the seconds from
it to `billing.run.completed`. `worker_peak_rss_mb` is the largest peak resident memory
(VmHWM, reset just before the run) of any worker during any of the runs. The run fans out
per customer (docs/architecture.md, "The billing pipeline"): provisioning reads the services a
page at a time and sends itself a part per 100 customers, each closed in one transaction; the
closed periods and evaluated drafts (invoicing), the drafts (commitments) and notification's
events are taken up to 250 to a transaction.

| figure | value |
| --- | --- |
{_table(figures, lambda n: n.startswith(("billing_run", "worker_peak")))}

Per size (customers / seconds / peak MB / invoices of the run / seconds to load the input / the
worker at the peak; PostgreSQL runs marked):
{_rows(billing)}

Each worker's and the broker's CPU seconds during the run (where the run's time goes, on two cores):
{chr(10).join(files["billing-cpu"])}
"""
