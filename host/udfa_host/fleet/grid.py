"""Runs on the PC: an in-process Flower Grid, the ServerApp's messages delivered to ClientApps.

Flower's simulation engine runs ClientApps only on Ray (flwr 1.42: RayBackend is its one
backend; `--engine simulation`, deployment.py), and its Deployment Engine starts a SuperLink
and one SuperNode process per board, and a ClientApp process per message. This Grid (`udfa
fleet --engine local`) is the small piece between the two, for tests and quick plans: Flower's
ServerApp, strategy and ClientApp run unchanged, each node's ClientApp runs in its own thread
(a board does its work in its own process, so the rounds of N boards overlap; a node's
messages one after the other), and a ClientApp that raises (a board that vanished mid-round)
becomes an error reply, as the SuperLink would send.
"""
import itertools
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from flwr.app import Context, Error, Message, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp import Grid
from flwr.supercore.task_identity import TaskIdentity

CLIENT_ERROR = 3  # flwr.common.constant.ErrorCode.CLIENT_APP_RAISED_EXCEPTION


class LocalGrid(Grid):
    """nodes: one node config dict per node (what a SuperNode gets from --node-config)."""

    def __init__(self, client_app, nodes, run_id=1):
        self.client_app = client_app
        self.contexts = {}
        for node_id, config in zip(itertools.count(1), nodes):
            self.contexts[node_id] = Context(run_id, node_id, dict(config), RecordDict(), {})
        self._run = None
        # Flower stamps each Message with the identity of the process that runs the task,
        # set by its own runtime; here the ServerApp's, in this process
        TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = (
            run_id, SUPERLINK_NODE_ID, run_id)
        self._replies = {}
        self._lock = threading.Lock()
        # one worker a node: a node's next message (the next round, after a timeout) waits
        # until its board is done with the last one, as a SuperNode's would
        self._pools = {n: ThreadPoolExecutor(1) for n in self.contexts}

    def set_run(self, run):
        self._run = run

    @property
    def run(self):
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self):
        return list(self.contexts)

    def push_messages(self, messages):
        ids = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = str(uuid.uuid4())
            ids.append(msg.metadata.message_id)
            self._pools[msg.metadata.dst_node_id].submit(self._deliver, msg)
        return ids

    def _deliver(self, msg):
        context = self.contexts[msg.metadata.dst_node_id]
        try:
            reply = self.client_app(msg, context)
        except Exception as e:  # noqa: BLE001  (any failure is the node's reply, as on Flower)
            reason = "%s: %s" % (type(e).__name__, " ".join(str(e).split()))
            reply = Message(Error(CLIENT_ERROR, reason), reply_to=msg)
        with self._lock:
            self._replies[msg.metadata.message_id] = reply

    def pull_messages(self, message_ids):
        with self._lock:
            return [self._replies.pop(i) for i in list(message_ids) if i in self._replies]

    def send_and_receive(self, messages, *, timeout=None):
        pending = set(self.push_messages(messages))
        end = None if timeout is None else time.monotonic() + timeout
        got = []
        while pending and (end is None or time.monotonic() < end):
            replies = self.pull_messages(pending)
            got += replies
            pending -= {m.metadata.reply_to_message_id for m in replies}
            if pending:
                time.sleep(0.05)
        return got

    def close(self):
        for pool in self._pools.values():
            pool.shutdown(wait=True)
