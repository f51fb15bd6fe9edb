"""Warm benchmark: one process, N documents after warm-up. usage: bench_warm.py typst|typst_fn|weasy [N] [warmup]"""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import sys, time, json, os, resource, statistics
from invoice_data import make_invoice
cand = sys.argv[1]; N = int(sys.argv[2]) if len(sys.argv) > 2 else 300; W = int(sys.argv[3]) if len(sys.argv) > 3 else 20

def rss_now():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS"): return int(l.split()[1]) // 1024

t_import = time.perf_counter()
if cand.startswith("typst"):
    import typst
    tpl = open(HERE + "/invoice.typ", "rb").read()
    # NB typst-py 0.15.2: Compiler(bytes) then a 2nd compile() fails ("file not found __typst_py_bytes__.typ"),
    # so the template bytes are passed on every compile() call (or use a path: typst_path).
    comp = typst.Compiler(root=HERE)
    pcomp = typst.Compiler(HERE + "/invoice.typ")
    if cand == "typst":
        def render(d): return comp.compile(tpl, format="pdf", sys_inputs={"data": json.dumps(d, ensure_ascii=False)})
    elif cand == "typst_path":
        def render(d): return pcomp.compile(format="pdf", sys_inputs={"data": json.dumps(d, ensure_ascii=False)})
    elif cand == "typst_fast":
        tpl2 = open(HERE + "/invoice_fast.typ", "rb").read()
        def render(d): return comp.compile(tpl2, format="pdf", sys_inputs={"data": json.dumps(d, ensure_ascii=False)})
    elif cand == "typst_svg":
        def render(d): return comp.compile(tpl, format="svg", sys_inputs={"data": json.dumps(d, ensure_ascii=False)})
    elif cand == "typst_notags":
        def render(d): return comp.compile(tpl, format="pdf", pdf_tags=False, sys_inputs={"data": json.dumps(d, ensure_ascii=False)})
    else:  # module-level function: new World per call
        def render(d): return typst.compile(tpl, root=HERE, format="pdf", sys_inputs={"data": json.dumps(d, ensure_ascii=False)})
elif cand == "weasy":
    import weasyprint
    from invoice_html import render as html
    def render(d): return weasyprint.HTML(string=html(d, "file://" + HERE + "/logo.svg"), base_url=HERE + "/").write_pdf()
t_ready = time.perf_counter() - t_import

t0 = time.perf_counter(); first = render(make_invoice(1)); t_first = time.perf_counter() - t0
for i in range(W): render(make_invoice(1000 + i))
times = []; sizes = []; rss_trace = []; cpus = []
tstart = time.perf_counter()
for i in range(N):
    d = make_invoice(100000 + i)
    c = time.process_time(); t = time.perf_counter(); pdf = render(d); times.append(time.perf_counter() - t); cpus.append(time.process_time() - c); sizes.append(len(pdf))
    if (i + 1) % max(1, N // 5) == 0: rss_trace.append(rss_now())
wall = time.perf_counter() - tstart
open(f"{OUT}/last_{cand}.pdf", "wb").write(pdf)
times.sort()
print(json.dumps({"cand": cand, "N": N, "import_s": round(t_ready, 3), "first_doc_s": round(t_first, 3),
    "median_ms": round(statistics.median(times) * 1e3, 2), "p95_ms": round(times[int(.95 * N)] * 1e3, 2),
    "min_ms": round(times[0] * 1e3, 2), "cpu_median_ms": round(statistics.median(cpus) * 1e3, 2), "threads": len(os.listdir("/proc/self/task")), "docs_per_s_1proc": round(N / wall, 1),
    "pdf_bytes_median": int(statistics.median(sizes)), "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "rss_trace_MB": rss_trace, "loadavg": os.getloadavg()}))
