# A tiny Ansible callback for `make bench`: appends one JSON line per task
# result (name, seconds, monotonic end time) to the file named by $ZDBENCH_TIMINGS, so the bench
# can say where the seed-002 design spends its time. Ansible's own
# profile_tasks lives in a collection that ansible-core does not ship.
import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'zdbench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get('ZDBENCH_TIMINGS')
        self._start = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start[task._uuid] = time.monotonic()

    def _record(self, result, status):
        if not self._path:
            return
        task = result._task
        t0 = self._start.get(task._uuid, time.monotonic())
        now = time.monotonic()
        line = {'task': task.get_name(), 'action': task.action, 'status': status,
                'seconds': round(now - t0, 4), 'end': round(now, 4)}
        with open(self._path, 'a') as f:
            f.write(json.dumps(line) + '\n')

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')
