"""Warm Chromium: one headless instance, one tab, per doc: write HTML, Page.navigate(file://), wait load, Page.printToPDF."""
import os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("TYPESET_OUT", "/tmp/typeset-out")
os.makedirs(OUT, exist_ok=True)
import subprocess, json, time, os, sys, base64, statistics, urllib.request, websocket
from invoice_data import make_invoice
from invoice_html import render
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
os.makedirs(OUT + "/cdp", exist_ok=True)
proc = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=9333",
    "--user-data-dir=" + OUT + "/chrome_prof_cdp", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try: targets = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json")); break
    except Exception: time.sleep(0.1)
page = [t for t in targets if t["type"] == "page"][0]
ws = websocket.create_connection(page["webSocketDebuggerUrl"], suppress_origin=True)
mid = 0
def call(method, wait_event=None, **params):
    global mid; mid += 1; ws.send(json.dumps({"id": mid, "method": method, "params": params})); res = None; ev = wait_event is None
    while res is None or not ev:
        m = json.loads(ws.recv())
        if m.get("id") == mid: res = m
        elif wait_event and m.get("method") == wait_event: ev = True
    if "error" in res: raise RuntimeError(res["error"])
    return res["result"]
call("Page.enable")
def pdf_for(n):
    path = f"{OUT}/cdp/doc.html"
    open(path, "w").write(render(make_invoice(n), HERE + "/logo.svg", chrome=True))
    call("Page.navigate", wait_event="Page.loadEventFired", url="file://" + path)
    r = call("Page.printToPDF", preferCSSPageSize=True, printBackground=True, displayHeaderFooter=False)
    return base64.b64decode(r["data"])
for i in range(20): pdf_for(1000 + i)
ts = []; t0 = time.perf_counter()
for i in range(N):
    t = time.perf_counter(); pdf = pdf_for(100000 + i); ts.append(time.perf_counter() - t)
wall = time.perf_counter() - t0
open(OUT + "/last_chromium_cdp.pdf", "wb").write(pdf)
def tree_rss(root):
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(root), "-p", str(root)], capture_output=True, text=True).stdout.split()
    return sum(map(int, out)) // 1024
rss = tree_rss(proc.pid)
ts.sort()
print(json.dumps({"cand": "chromium_cdp", "N": N, "median_ms": round(statistics.median(ts) * 1e3, 1), "p95_ms": round(ts[int(.95 * N)] * 1e3, 1),
    "docs_per_s_1inst": round(N / wall, 1), "pdf_bytes": len(pdf), "tree_rss_MB_sum(overcounts shared)": rss, "loadavg": os.getloadavg()}))
ws.close(); proc.terminate(); proc.wait()
