"""Benchmarks/run's documents figures: invoices through the whole documents worker, against
the typesetter alone on the same documents."""
import os
import signal
import subprocess
import time

from bench_support import ROOT, log, median, number, peak_rss_kb

def children(pid):
    """The processes `pid` started, from any of its threads (each thread lists its own)."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as file:
                found += [int(child) for child in file.read().split()]
    except OSError:
        pass
    return found


def rounds(bench, rounds):
    """Invoices through the whole documents worker (HTML and PDF, stored, announced), against
    the typesetter alone on the same documents: warm, one process per core, all at once."""
    count, cores = bench.size("DOCUMENTS_COUNT"), os.cpu_count()
    rows, worker_rss, typesetter_rss = [], [], []
    for round_ in range(1, rounds + 1):
        log(f"== documents round {round_}/{rounds} ({count} invoices)")
        directory = os.path.join(bench.work, f"documents-{round_}")
        os.makedirs(directory)
        output = os.path.join(directory, "rate")
        drain = bench.drain(f"bench.documents.{round_}", "invoice.document_ready", count, output)
        time.sleep(1)
        bench.tool("PipelineBenchmark", "invoices", bench.amqp, count)
        environment = dict(os.environ, COVENANT_AMQP_URL=bench.amqp, COVENANT_DATA_DIR=os.path.join(directory, "data"),
                           COVENANT_LOG_LEVEL="warning")
        worker = subprocess.Popen([os.path.join(bench.bin, "covenant-documents")], env=environment, cwd=ROOT,
                                  stdout=open(os.path.join(directory, "worker.log"), "a"), stderr=subprocess.STDOUT)
        peaks = {}
        while drain.poll() is None:
            for pid in [worker.pid] + children(worker.pid):
                peaks[pid] = max(peaks.get(pid, 0), peak_rss_kb(pid) / 1024)
            time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        worker.wait()
        bench.delete_queue(f"bench.documents.{round_}")
        bench.delete_queue("covenant.documents")
        with open(output) as file:
            documents = file.read().strip()
        alone = bench.tool("PipelineBenchmark", "typeset", count, cores).strip()
        rows.append([documents, alone])
        worker_rss.append(peaks.pop(worker.pid, 0))
        typesetter_rss.append(max(peaks.values(), default=0))
    bench.files["documents"] = rows
    documents, alone = median(row[0] for row in rows), median(row[1] for row in rows)
    return [("documents_per_s", number(documents)), ("typesetter_alone_per_s", number(alone)),
            ("documents_vs_typesetter", f"{documents / alone:.2f}"),
            ("documents_worker_peak_rss_mb", f"{max(worker_rss):.0f}"),
            ("typesetter_peak_rss_mb", f"{max(typesetter_rss):.0f}")]
