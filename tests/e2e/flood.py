"""Post reports to a collector from several threads until told to stop, and write the
report_id of every report it acknowledged (201) to OUT, one a line, as each arrives.
Run inside the e2e link's network namespace:
    python flood.py URL CA_CERT TOKEN_FILE TEMPLATE_JSON OUT STOP_FILE"""

import json
import os
import sys
import threading
import time

import requests


def main():
    url, ca_cert, token_file, template_file, out, stop_file = sys.argv[1:7]
    with open(token_file) as handle:
        token = handle.read().strip()
    with open(template_file) as handle:
        template = json.load(handle)
    lock = threading.Lock()
    sink = open(out, "a", buffering=1)  # noqa: SIM115 - one line per acknowledgement

    def sender(worker):
        session = requests.Session()
        number = 0
        while not os.path.exists(stop_file):
            number += 1
            report = dict(template, report_id=f"flood-{worker}-{number}")
            try:
                response = session.post(
                    url + "/api/v1/reports",
                    json=report,
                    headers={"Authorization": "Bearer " + token},
                    verify=ca_cert,
                    timeout=10,
                )
            except requests.RequestException:
                session = requests.Session()  # down or restarting: keep trying
                time.sleep(0.2)
                continue
            if response.status_code == 201:
                with lock:
                    sink.write(report["report_id"] + "\n")

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()


if __name__ == "__main__":
    main()
