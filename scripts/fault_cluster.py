"""The local cluster a fault test drives (scripts/cluster): its workers, its broker (one node or
a cluster of them, scripts/rabbitmq), its database, and a watcher of its events."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WORKERS = ["provisioning", "rating", "commitments", "invoicing", "notification", "documents"]


def log(text):
    print(f"   {text}", file=sys.stderr, flush=True)


def bin_path():
    return subprocess.check_output(["swift", "build", "--show-bin-path"], cwd=ROOT, text=True).strip()


# The node a worker's consumer is on: `consumer connected to broker node H:P`, `… connected again
# to broker node H:P`, `consumer moved from broker node A to broker node H:P`.
CONSUMER_NODE = re.compile(r"consumer (?:connected (?:again )?to|moved from broker node \S+ to) broker node (\S+)")



class Cluster:
    def __init__(self, name, base_port, storage, brokers=1):
        self.dir = os.path.join(os.environ.get("FAULT_TEST_DIR", "var/fault-test"), name)
        self.brokers = brokers
        subprocess.run(["scripts/cluster", "stop", self.dir], cwd=ROOT, capture_output=True)
        subprocess.run(["rm", "-rf", self.dir], cwd=ROOT)
        env = dict(os.environ, COVENANT_HTTP_BASE_PORT=str(base_port), COVENANT_CLUSTER_STORAGE=storage,
                   COVENANT_CLUSTER_BROKERS=str(brokers))
        self.url = subprocess.check_output(["scripts/cluster", "start", self.dir], cwd=ROOT, env=env,
                                           text=True, stderr=subprocess.DEVNULL).strip().splitlines()[-1]
        self.bin = bin_path()
        self.faults = []

    def covenant(self, *args, **kwargs):
        return subprocess.run([f"{self.bin}/covenant", *args, "--amqp-url", self.url], cwd=ROOT, check=True,
                              capture_output=True, text=True, **kwargs)

    def publish(self, envelopes, chunk=5000):
        for start in range(0, len(envelopes), chunk):
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(envelopes[start:start + chunk], f)
            for attempt in range(30):
                try:
                    self.covenant("publish", f.name)
                    break
                except subprocess.CalledProcessError:
                    time.sleep(1)  # the broker is restarting
            else:
                raise RuntimeError("could not publish")
            os.unlink(f.name)

    def publish_raw(self, items):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(json.dumps(item) for item in items))
        for attempt in range(30):
            try:
                self.covenant("publish", "--raw", f.name)
                break
            except subprocess.CalledProcessError:
                time.sleep(1)
        else:
            raise RuntimeError("could not publish")
        os.unlink(f.name)

    def pid(self, worker):
        with open(os.path.join(ROOT, self.dir, "pids", f"{worker}.pid")) as f:
            return int(f.read())

    def kill(self, worker):
        """SIGKILL the worker (no graceful anything) and start a new one in its place."""
        pid = self.pid(worker)
        os.kill(pid, signal.SIGKILL)
        while subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode == 0:
            time.sleep(0.05)
        with open(os.path.join(ROOT, self.dir, "pids", f"{worker}.port")) as f:
            port = f.read().strip()
        with open(os.path.join(ROOT, self.dir, "worker.env")) as f:
            settings = dict(line.strip().split("=", 1) for line in f if "=" in line)
        env = dict(os.environ, **settings, COVENANT_HTTP_PORT=port)
        with open(os.path.join(ROOT, self.dir, "logs", f"{worker}.log"), "a") as out:
            process = subprocess.Popen([f"{self.bin}/covenant-{worker}"], cwd=ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        with open(os.path.join(ROOT, self.dir, "pids", f"{worker}.pid"), "w") as f:
            f.write(str(process.pid))
        self.faults.append(f"kill -9 {worker}")
        log(f"killed {worker} (pid {pid}) and restarted it")

    def restart_broker(self):
        """Stops the broker (every node) and starts it again on its ports and data."""
        subprocess.run(["scripts/rabbitmq", "restart", os.path.join(self.dir, "rabbitmq")], cwd=ROOT, check=True,
                       capture_output=True)
        self.faults.append("restart rabbitmq" + (f" (all {self.brokers} nodes)" if self.brokers > 1 else ""))
        log("restarted RabbitMQ")

    def broker_node(self, worker):
        """The broker node (1…N) the worker's consumer is connected to, as its log last says."""
        with open(os.path.join(ROOT, self.dir, "logs", f"{worker}.log")) as f:
            found = CONSUMER_NODE.findall(f.read())
        if not found:
            raise RuntimeError(f"{worker}'s log names no broker node")
        for node in range(1, self.brokers + 1):
            with open(os.path.join(ROOT, self.dir, "rabbitmq", f"node-{node}", "address")) as f:
                if f.read().strip() == found[-1]:
                    return node
        raise RuntimeError(f"{worker} is on {found[-1]}, no node of the cluster")

    def kill_node(self, node, why):
        """kill -9 a broker node: no goodbye to its connections, its quorum queue replicas gone."""
        subprocess.run(["scripts/rabbitmq", "kill", os.path.join(self.dir, "rabbitmq"), str(node)], cwd=ROOT,
                       check=True, capture_output=True)
        self.faults.append(f"kill -9 broker node {node} ({why})")
        log(f"killed broker node {node} ({why})")

    def start_node(self, node):
        """Starts a killed node again on its ports and data; it rejoins the cluster."""
        subprocess.run(["scripts/rabbitmq", "start-node", os.path.join(self.dir, "rabbitmq"), str(node)], cwd=ROOT,
                       check=True, capture_output=True)
        self.faults.append(f"start broker node {node}")
        log(f"started broker node {node} again")

    def moves(self):
        """Every line of the workers' logs saying a connection moved to another broker node."""
        found = []
        for worker in WORKERS:
            with open(os.path.join(ROOT, self.dir, "logs", f"{worker}.log")) as f:
                found += [line.rstrip("\n") for line in f if "moved from broker node" in line]
        return sorted(found)  # each line starts with its time

    def restart_database(self):
        """A fast shutdown of PostgreSQL (open transactions are rolled back, connections cut),
        then a start on the same port and data."""
        subprocess.run(["scripts/postgres", "restart", os.path.join(self.dir, "postgres")], cwd=ROOT, check=True,
                       capture_output=True)
        self.faults.append("restart postgresql")
        log("restarted PostgreSQL")

    def outbox_backlogs(self):
        """Each worker's unsent outbox rows, from its /health (None while it does not answer)."""
        backlogs = []
        for worker in WORKERS:
            try:
                with open(os.path.join(ROOT, self.dir, "pids", f"{worker}.port")) as f:
                    port = f.read().strip()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    body = response.read()
            except urllib.error.HTTPError as error:  # 503 while not ready: the body still says
                body = error.read()
            except OSError:
                body = None
            try:
                backlogs.append(json.loads(body).get("outbox_backlog") if body else None)
            except ValueError:
                backlogs.append(None)
        return backlogs

    def queue_depths(self):
        try:
            out = self.covenant("queues").stdout
        except subprocess.CalledProcessError:
            return None
        depths = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].startswith("messages "):
                depths[parts[0]] = int(parts[1].split()[1])
        return depths

    def stop(self):
        subprocess.run(["scripts/cluster", "stop", self.dir], cwd=ROOT, capture_output=True)


class Watcher:
    """Every event, as an integrator's durable queue receives it, deduplicated by event id."""

    def __init__(self, cluster, name, tenant):
        self.tenant = tenant
        self.cluster = cluster
        self.name = name
        self.path = os.path.join(ROOT, cluster.dir, "events.jsonl")
        self.out = open(self.path, "w")
        self.restarts = 0
        self.start()
        self.offset = 0
        self.events = {}
        self.buffer = ""

    def start(self):
        """Watches through the durable queue (on a cluster, a quorum queue: it keeps the events on
        the nodes still up when one dies). A watch gives up after --timeout without a broker; a
        whole cluster's restart can take longer, so a watch that ended is started again, on the
        same queue, and nothing is missed."""
        ready = os.path.join(ROOT, self.cluster.dir, "watch.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        quorum = ["--quorum"] if self.cluster.brokers > 1 else []
        self.process = subprocess.Popen(
            [f"{self.cluster.bin}/covenant", "watch", "--amqp-url", self.cluster.url, "--json", "--queue",
             f"fault-test-{self.name}", *quorum, "--timeout", "300", "--ready-file", ready], cwd=ROOT,
            stdout=self.out, stderr=subprocess.DEVNULL)
        while not os.path.exists(ready):
            if self.process.poll() is not None:  # the broker is not back yet: try again
                time.sleep(1)
                return self.start()
            time.sleep(0.1)

    def poll(self):
        if self.process.poll() is not None:
            self.restarts += 1
            log(f"the watch ended (exit {self.process.returncode}); watching again")
            self.start()
        with open(self.path) as f:
            f.seek(self.offset)
            data = f.read()
            self.offset = f.tell()
        self.buffer += data
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            if line.strip():
                event = json.loads(line)
                if str(event.get("tenantid", "")).startswith(self.tenant) or event.get("tenantid") == "covenant":
                    self.events.setdefault(event["id"], event)

    def of(self, type_):
        self.poll()
        return [e for e in self.events.values() if e["type"] == type_]

    def stop(self):
        self.process.terminate()
        self.process.wait()
        self.out.close()


def wait_until(condition, what, timeout, tick=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if tick:
            tick()
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


def free_base_port(count):
    """A port from which `count` consecutive loopback ports are free, for the workers' /health."""
    rng = random.Random()
    while True:
        base = rng.randrange(20000, 60000)
        try:
            sockets = []
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()


def settle(cluster, timeout=600):
    """Until every worker queue and retry queue, and every worker's outbox, has stayed empty for
    two seconds. (A worker killed after claiming outbox rows leaves them to its successor once
    the claim's lease runs out: messages in no queue for that long, a parked retry among them.)"""
    quiet_since = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        depths = cluster.queue_depths()
        busy = depths is None or any(v for k, v in depths.items() if not k.endswith(".dead")) \
            or any(backlog != 0 for backlog in cluster.outbox_backlogs())
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since >= 2:
            return
        time.sleep(0.3)
    raise RuntimeError("the cluster did not settle")


def write_report(figures, faults, moves, args):
    """Replaces this storage's and broker's section of docs/reliability.md; the others stay."""
    title = ("PostgreSQL" if args.postgres else "SQLite") + \
        (f", a cluster of {args.brokers} RabbitMQ nodes" if args.brokers > 1 else "")
    command = "scripts/fault-test" + (f" --brokers {args.brokers}" if args.brokers > 1 else "") + \
        (" --postgres" if args.postgres else "")
    if args.baseline_events:
        command += " --baseline-events …/baseline/events.jsonl"
    section = [
        f"## {title}",
        "",
        f"Last long-form run (`{command}`, {time.strftime('%Y-%m-%d')}):",
        "",
        "```",
        *[f"{name}: {value}" for name, value in figures],
        "```",
        "",
        "Faults injected, in order: " + ", ".join(faults) + ".",
        "",
    ]
    if moves:
        section += ["A worker's log as a node died:", "", "```", moves[0], "```", ""]
    path = os.path.join(ROOT, "docs/reliability.md")
    text = open(path).read() if os.path.exists(path) else "# Reliability\n"
    lines = text.rstrip("\n").split("\n")
    if f"## {title}" in lines:
        begin = lines.index(f"## {title}")
        after = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[begin:after] = section
    else:
        lines += [""] + section
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")
