"""The device registry over HTTPS with SAS auth, against the real emulator.

Run by ctest: /usr/bin/python3 test_registry.py (IOTHUB_EMULATOR_BIN names the binary).
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import jsonschema

from harness import (Emulator, curl, load_schema, policy_key, policy_secondary_key, sas_token)

DEVICE_SCHEMA = load_schema("device.schema.json")
RW = "registryReadWrite"


class Registry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emu = Emulator("--device", "seeded1").start()

    @classmethod
    def tearDownClass(cls):
        cls.emu.__exit__(None, None, None)

    def assertError(self, res, status, code, name):
        self.assertEqual(res.status, status, res.body)
        self.assertEqual(res.headers.get("iothub-errorcode"), name)
        self.assertTrue(res.headers.get("content-type", "").startswith("application/json"))
        detail = res.error()
        if detail["form"] == "flat":  # the registry's own errors: only the name, no number
            self.assertEqual(detail["name"], name)
        else:
            self.assertEqual(detail["errorCode"], code)
        return detail

    def assertDevice(self, res, device_id):
        self.assertEqual(res.status, 200, res.body)
        body = res.json()
        jsonschema.validate(body, DEVICE_SCHEMA)
        self.assertEqual(body["deviceId"], device_id)
        self.assertEqual(res.headers["etag"], '"%s"' % body["etag"])
        return body

    def put(self, device_id, body, policy=RW, headers=None):
        return self.emu.request("PUT", "/devices/%s?api-version=2020-09-30" % device_id, policy,
                                headers=dict({"Content-Type": "application/json; charset=utf-8"},
                                             **(headers or {})),
                                body=json.dumps(body) if not isinstance(body, str) else body)

    def test_crud_life_cycle(self):
        # Create: no If-Match, keys generated when empty (what Node sends).
        created = self.assertDevice(self.put("crud1", {
            "deviceId": "crud1", "authentication": {
                "type": "sas", "symmetricKey": {"primaryKey": "", "secondaryKey": ""}}}), "crud1")
        self.assertEqual(created["status"], "enabled")
        self.assertEqual(created["connectionState"], "Disconnected")
        self.assertNotEqual(created["authentication"]["symmetricKey"]["primaryKey"], "")
        # Get.
        got = self.assertDevice(self.emu.request("GET", "/devices/crud1?api-version=2018-06-30",
                                                 "registryRead"), "crud1")
        self.assertEqual(got["etag"], created["etag"])
        # List, with and without the trailing slash and top (C# and Node forms).
        for path in ("/devices/?top=1000&api-version=2018-08-30-preview",
                     "/devices?api-version=2018-06-30"):
            listed = self.emu.request("GET", path, "registryRead")
            self.assertEqual(listed.status, 200, listed.body)
            ids = [d["deviceId"] for d in listed.json()]
            self.assertIn("crud1", ids)
            for d in listed.json():
                jsonschema.validate(d, DEVICE_SCHEMA)
        # Update with Node's unquoted `If-Match: *`: status change, keys kept.
        updated = self.assertDevice(self.put("crud1", {"deviceId": "crud1", "status": "disabled",
                                                       "statusReason": "maintenance"},
                                             headers={"If-Match": "*"}), "crud1")
        self.assertEqual(updated["status"], "disabled")
        self.assertEqual(updated["statusReason"], "maintenance")
        self.assertNotEqual(updated["etag"], created["etag"])
        self.assertEqual(updated["authentication"], created["authentication"])
        # Update with C#'s quoted etag.
        again = self.assertDevice(self.put("crud1", {"deviceId": "crud1", "status": "enabled"},
                                           headers={"If-Match": '"%s"' % updated["etag"]}),
                                  "crud1")
        self.assertEqual(again["status"], "enabled")
        # A stale etag is refused.
        self.assertError(self.put("crud1", {"deviceId": "crud1"},
                                  headers={"If-Match": '"%s"' % updated["etag"]}),
                         412, 412001, "PreconditionFailed")
        self.assertError(self.emu.request("DELETE", "/devices/crud1", RW,
                                          headers={"If-Match": '"%s"' % created["etag"]}),
                         412, 412001, "PreconditionFailed")
        # Delete with the current etag, then it is gone.
        deleted = self.emu.request("DELETE", "/devices/crud1?api-version=2020-09-30", RW,
                                   headers={"If-Match": '"%s"' % again["etag"]})
        self.assertEqual(deleted.status, 204, deleted.body)
        self.assertEqual(deleted.body, "")
        self.assertError(self.emu.request("GET", "/devices/crud1", RW), 404, 404001,
                         "DeviceNotFound")
        self.assertError(self.emu.request("DELETE", "/devices/crud1", RW,
                                          headers={"If-Match": "*"}),
                         404, 404001, "DeviceNotFound")

    def test_create_twice_conflicts(self):
        self.assertDevice(self.put("dup1", {"deviceId": "dup1"}), "dup1")
        self.assertError(self.put("dup1", {"deviceId": "dup1"}), 409, 409001,
                         "DeviceAlreadyExists")

    def test_update_of_missing_device_is_not_found(self):
        self.assertError(self.put("ghost", {"deviceId": "ghost"}, headers={"If-Match": "*"}),
                         404, 404001, "DeviceNotFound")

    def test_given_keys_are_kept_and_bad_keys_refused(self):
        key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        body = self.assertDevice(self.put("keyed", {"deviceId": "keyed", "authentication": {
            "symmetricKey": {"primaryKey": key, "secondaryKey": key}}}), "keyed")
        self.assertEqual(body["authentication"]["symmetricKey"]["primaryKey"], key)
        detail = self.assertError(self.put("badkey", {"deviceId": "badkey", "authentication": {
            "symmetricKey": {"primaryKey": "not base64!", "secondaryKey": ""}}}),
            400, 400004, "ArgumentInvalid")
        self.assertIn("primaryKey", detail["message"])
        self.assertError(self.put("shortkey", {"authentication": {
            "symmetricKey": {"primaryKey": "AAAA", "secondaryKey": ""}}}),
            400, 400004, "ArgumentInvalid")

    def test_registry_errors_are_flat_as_the_node_sdk_reads_them(self):
        """Node's Registry reads only the flat form: Message split at ';', the code's name after
        "ErrorCode:". From that it raises DeviceNotFoundError, DeviceAlreadyExistsError,
        InvalidEtagError; a refused token stays in the nested form, as the hub sends it."""
        missing = self.emu.request("GET", "/devices/nosuch", RW)
        detail = self.assertError(missing, 404, 404001, "DeviceNotFound")
        self.assertEqual(detail["form"], "flat")
        self.assertEqual(missing.json()["Message"],
                         "ErrorCode:DeviceNotFound;device 'nosuch' is not registered")
        self.assertTrue(missing.json()["ExceptionMessage"].startswith("Tracking ID:"))
        cases = [(self.put("seeded1", {}), 409, "DeviceAlreadyExists"),
                 (self.put("seeded1", {}, headers={"If-Match": '"stale"'}), 412,
                  "PreconditionFailed"),
                 (self.emu.request("DELETE", "/devices/nosuch", RW), 404, "DeviceNotFound")]
        for res, status, name in cases:
            self.assertEqual(res.status, status, res.body)
            self.assertEqual(res.error()["form"], "flat", res.body)
            self.assertEqual(res.error()["name"], name)
        refused = self.emu.request("GET", "/devices/nosuch", "service")
        self.assertEqual(refused.status, 401)
        self.assertEqual(refused.error()["form"], "nested")
        self.assertEqual(refused.error()["errorCode"], 401002)

    def test_bad_bodies(self):
        self.assertError(self.put("badjson", "{not json"), 400, 400006, "IotHubFormatError")
        self.assertError(self.put("badjson", "[1,2]"), 400, 400006, "IotHubFormatError")
        detail = self.assertError(self.put("mismatch", {"deviceId": "other"}), 400, 400004,
                                  "ArgumentInvalid")
        self.assertIn("does not match", detail["message"])
        self.assertError(self.put("badstatus", {"status": "paused"}), 400, 400004,
                         "ArgumentInvalid")
        self.assertError(self.put("x509", {"authentication": {"type": "selfSigned"}}), 400,
                         400004, "ArgumentInvalid")
        big = json.dumps({"deviceId": "big", "statusReason": "x" * (130 * 1024)})
        self.assertError(self.put("big", big), 413, 413001, "MessageTooLarge")
        # Larger than the socket buffers hold: read and dropped, so curl finishes sending and
        # reads the 413 (answered early, it saw a reset instead).
        bigger = json.dumps({"deviceId": "big", "statusReason": "x" * (900 * 1024)})
        self.assertError(self.put("big", bigger), 413, 413001, "MessageTooLarge")
        # Nothing was stored by any of them.
        for device_id in ("badjson", "mismatch", "badstatus", "x509", "big"):
            self.assertEqual(self.emu.request("GET", "/devices/" + device_id, RW).status, 404)

    def test_bad_device_ids(self):
        # A space (encoded), an id over 128 characters, '..' and an illegal character.
        for raw in ("a%20b", "x" * 129, "..", "a%3Cb", "a%2Fb"):
            detail = self.assertError(self.put(raw, {}), 400, 400004, "ArgumentInvalid")
            self.assertIn("device id", detail["message"])

    def test_encoded_ids_decode_per_segment(self):
        # C# encodes with upper-case hex, Node with lower-case; both name the same device.
        self.assertDevice(self.put("dev%3A1", {"deviceId": "dev:1"}), "dev:1")
        self.assertDevice(self.emu.request("GET", "/devices/dev%3a1", RW), "dev:1")
        self.assertDevice(self.emu.request("GET", "/devices/dev:1", RW), "dev:1")
        self.assertDevice(self.put("p%25c", {"deviceId": "p%c"}), "p%c")

    def test_policies_and_permissions(self):
        # registryRead may read but not write; service and device may do neither.
        self.assertEqual(self.emu.request("GET", "/devices", "registryRead").status, 200)
        for policy in ("registryRead", "service", "device"):
            detail = self.assertError(self.put("perm1", {}, policy=policy), 401, 401002,
                                      "IotHubUnauthorizedAccess")
            self.assertIn("RegistryWrite", detail["message"])
        for policy in ("service", "device"):
            self.assertError(self.emu.request("GET", "/devices/seeded1", policy), 401, 401002,
                             "IotHubUnauthorizedAccess")
        # iothubowner may do everything.
        self.assertDevice(self.put("perm1", {}, policy="iothubowner"), "perm1")

    def test_device_token_is_refused(self):
        device = self.emu.request("GET", "/devices/seeded1", RW).json()
        key = device["authentication"]["symmetricKey"]["primaryKey"]
        token = sas_token("%s/devices/seeded1" % self.emu.host, key)
        detail = self.assertError(self.emu.request("GET", "/devices/seeded1", token=token), 401,
                                  401002, "IotHubUnauthorizedAccess")
        self.assertIn("device token", detail["message"])

    def test_token_shapes_of_every_sdk(self):
        host = self.emu.host
        for style in ("upper", "lower", "raw"):
            for order in ("csharp", "node"):
                token = sas_token(host, policy_key(RW), RW, sr_style=style, order=order)
                res = self.emu.request("GET", "/devices/seeded1", token=token)
                self.assertEqual(res.status, 200, (style, order, res.body))
        # A token scoped to one device works there and nowhere else.
        scoped = sas_token(host + "/devices/seeded1", policy_key(RW), RW)
        self.assertEqual(self.emu.request("GET", "/devices/seeded1", token=scoped).status, 200)
        self.assertError(self.emu.request("GET", "/devices/seeded10", token=scoped), 401, 401002,
                         "IotHubUnauthorizedAccess")
        # The secondary key works too, and localhost is an accepted audience.
        token = sas_token("localhost", policy_secondary_key(RW), RW)
        self.assertEqual(self.emu.request("GET", "/devices/seeded1", token=token).status, 200)

    def test_bad_tokens(self):
        host = self.emu.host
        wrong_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        cases = {
            "missing": None,
            "garbage": "Bearer abc",
            "wrong key": sas_token(host, wrong_key, RW),
            "unknown policy": sas_token(host, policy_key(RW), "nosuchpolicy"),
            "expired": sas_token(host, policy_key(RW), RW, expiry=int(time.time()) - 400),
            "other hub": sas_token("otherhub.azure-devices.net", policy_key(RW), RW),
            "tampered": sas_token(host, policy_key(RW), RW).replace("sig=", "sig=A", 1),
            "no se": "SharedAccessSignature sr=%s&sig=abc%%3D&skn=%s" % (host, RW),
        }
        for name, token in cases.items():
            headers = {} if token is None else {"Authorization": token}
            res = curl("GET", self.emu.url("/devices/seeded1"), headers, cafile=self.emu.ca)
            detail = self.assertError(res, 401, 401002, "IotHubUnauthorizedAccess")
            self.assertTrue(detail["message"].startswith("Unauthorized"), name)
        # Within the 5 minutes of clock skew an expired token still works.
        skewed = sas_token(host, policy_key(RW), RW, expiry=int(time.time()) - 200)
        self.assertEqual(self.emu.request("GET", "/devices/seeded1", token=skewed).status, 200)

    def test_bad_escapes_and_encoded_query(self):
        for path in ("/devices/a%00b", "/devices/a%zzb", "/devices/a%4"):
            detail = self.assertError(self.emu.request("GET", path, RW), 400, 400004,
                                      "ArgumentInvalid")
            self.assertIn("escape", detail["message"])
        # Query values are percent-decoded: %35 is 5.
        res = self.emu.request("GET", "/devices?top=%35", "registryRead")
        self.assertEqual(res.status, 200, res.body)

    def test_chunked_body_over_the_limit(self):
        token = sas_token(self.emu.host, policy_key(RW), RW)
        res = curl("PUT", self.emu.url("/devices/chunky"),
                   {"Authorization": token, "Transfer-Encoding": "chunked"},
                   body=b"{" + b" " * (130 * 1024) + b"}", cafile=self.emu.ca)
        self.assertError(res, 413, 413001, "MessageTooLarge")
        # Far past the limit the emulator stops reading and closes the connection.
        with self.assertRaises(subprocess.CalledProcessError):
            curl("PUT", self.emu.url("/devices/chunky"),
                 {"Authorization": token, "Transfer-Encoding": "chunked"},
                 body=b"{" + b" " * (8 * 1024 * 1024) + b"}", cafile=self.emu.ca)
        self.assertEqual(self.emu.request("GET", "/devices/chunky", RW).status, 404)

    def test_unknown_paths_and_methods(self):
        self.assertError(self.emu.request("GET", "/nothing/here", RW), 404, 404000,
                         "ResourceNotFound")
        detail = self.assertError(self.emu.request("POST", "/devices/seeded1", RW), 404, 404000,
                                  "ResourceNotFound")
        self.assertIn("PUT", detail["message"])
        self.assertError(self.emu.request("GET", "/devices//x", RW), 404, 404000,
                         "ResourceNotFound")
        self.assertError(self.emu.request("GET", "/devices/?top=0", RW), 400, 400004,
                         "ArgumentInvalid")
        self.assertError(self.emu.request("GET", "/devices/?top=abc", RW), 400, 400004,
                         "ArgumentInvalid")

    def test_health_and_ca(self):
        res = curl("GET", self.emu.url("/health"), cafile=self.emu.ca)
        self.assertEqual(res.status, 200)
        self.assertEqual(res.json()["status"], "healthy")
        self.assertEqual(res.json()["components"]["registry"], "up")
        ca = curl("GET", self.emu.url("/emulator/ca.pem"), cafile=self.emu.ca)
        self.assertEqual(ca.status, 200)
        with open(self.emu.ca) as f:
            self.assertEqual(ca.body, f.read())
        # The certificate names localhost as well as 127.0.0.1.
        port = self.emu.ready["ports"]["https"]
        res = curl("GET", "https://localhost:%d/health" % port, cafile=self.emu.ca)
        self.assertEqual(res.status, 200)

    def test_seeded_device_and_ready_file(self):
        ready = self.emu.ready
        self.assertEqual(ready["hostName"], "127.0.0.1")
        self.assertIn("SharedAccessKeyName=iothubowner", ready["serviceConnectionString"])
        self.assertIn("SharedAccessKey=%s" % policy_key("iothubowner"),
                      ready["serviceConnectionString"])
        device = self.assertDevice(self.emu.request("GET", "/devices/seeded1", RW), "seeded1")
        key = device["authentication"]["symmetricKey"]["primaryKey"]
        self.assertEqual(ready["devices"]["seeded1"],
                         "HostName=127.0.0.1;DeviceId=seeded1;SharedAccessKey=" + key)
        self.assertIsNone(ready["ports"]["http"])
        line = self.emu.stdout_lines[-1]
        self.assertIn(ready["serviceConnectionString"], line)


class Lifecycle(unittest.TestCase):
    def test_restart_keeps_devices(self):
        with tempfile.TemporaryDirectory() as state:
            key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
            with Emulator(state_dir=state) as emu:
                res = emu.request("PUT", "/devices/keep1", RW, body=json.dumps(
                    {"authentication": {"symmetricKey": {"primaryKey": key}}}))
                self.assertEqual(res.status, 200, res.body)
                etag = res.json()["etag"]
            with Emulator(state_dir=state) as emu:
                res = emu.request("GET", "/devices/keep1", RW)
                self.assertEqual(res.status, 200, res.body)
                self.assertEqual(res.json()["etag"], etag)
                self.assertEqual(res.json()["authentication"]["symmetricKey"]["primaryKey"], key)
            db = os.path.join(state, "registry.db")
            self.assertEqual(os.stat(db).st_mode & 0o777, 0o600)
            self.assertEqual(os.stat(os.path.join(state, "tls", "ca.key")).st_mode & 0o777, 0o600)

    def test_a_second_emulator_on_the_same_state_dir_is_refused_at_once(self):
        with tempfile.TemporaryDirectory() as state:
            with Emulator(state_dir=state) as first:
                conf = os.path.join(state, "broker", "mosquitto.conf")
                before = open(conf).read()
                second = Emulator(state_dir=state, expect_ready=False)
                with second:
                    self.assertEqual(second.proc.wait(timeout=10), 1)
                    refusals = [line for line in second.log().splitlines()
                                if "is in use by another emulator" in line]
                    self.assertEqual(len(refusals), 1, second.log())
                    self.assertIn("(pid %d)" % first.proc.pid, refusals[0])
                    self.assertIn("--state-dir", refusals[0])
                    self.assertIn("--ephemeral", refusals[0])
                # The first one's files are as it wrote them, and it still serves.
                self.assertEqual(open(conf).read(), before)
                self.assertEqual(first.request("GET", "/devices", RW).status, 200)
            # Once the first is gone, the directory is free again.
            with Emulator(state_dir=state) as again:
                self.assertEqual(again.request("GET", "/devices", RW).status, 200)

    def test_certificate_follows_host_names(self):
        with tempfile.TemporaryDirectory() as state:
            with Emulator(state_dir=state) as emu:
                first_ca = open(emu.ca).read()
            # A new --host-name: the certificate names it, and the dev CA's name constraints
            # (it may vouch only for the emulator's names) are widened by a new CA.
            with Emulator("--host-name", "emu.example.test", state_dir=state) as emu:
                port = emu.ready["ports"]["https"]
                res = curl("GET", "https://emu.example.test:%d/health" % port, cafile=emu.ca,
                           extra=["--resolve", "emu.example.test:%d:127.0.0.1" % port])
                self.assertEqual(res.status, 200)
                self.assertNotEqual(open(emu.ca).read(), first_ca)
                self.assertIn("making a new CA", emu.log())
                text = subprocess.run(["openssl", "x509", "-in", emu.ca, "-noout", "-text"],
                                      capture_output=True, text=True, check=True).stdout
                self.assertIn("Name Constraints: critical", text)
                self.assertIn("DNS:emu.example.test", text)
            # The same names again: the CA and certificate are kept.
            with Emulator("--host-name", "emu.example.test", state_dir=state) as emu:
                self.assertNotIn("making a new CA", emu.log())

    def test_health_answers_once_ready_file_exists(self):
        emu = Emulator(expect_ready=False)
        with emu:
            # Wait only for the file (a fixture would), then ask at once: no retries.
            deadline = time.monotonic() + 20
            while not os.path.exists(emu.ready_file):
                self.assertIsNone(emu.proc.poll(), emu.log())
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.005)
            with open(emu.ready_file) as f:
                ready = json.load(f)
            res = curl("GET", "https://127.0.0.1:%d/health" % ready["ports"]["https"],
                       cafile=ready["caFile"])
            self.assertEqual(res.status, 200, res.body)
            emu.wait_ready()

    def test_environment_seeds_and_plain_http(self):
        env = {"IOTHUB_EMULATOR_DEVICES": "envdev1,envdev2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
               "IOTHUB_EMULATOR_HTTP_PORT": "0"}
        with Emulator(env=env) as emu:
            self.assertIn("envdev1", emu.ready["devices"])
            self.assertTrue(emu.ready["devices"]["envdev2"].endswith(
                "SharedAccessKey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="))
            port = emu.ready["ports"]["http"]
            token = sas_token(emu.host, policy_key(RW), RW)
            res = curl("GET", "http://127.0.0.1:%d/devices/envdev2" % port,
                       {"Authorization": token})
            self.assertEqual(res.status, 200, res.body)

    def test_port_in_use_fails_fast_with_the_fix(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            emu = Emulator("--https-port", str(port), expect_ready=False)
            with emu:
                code = emu.proc.wait(timeout=20)
                self.assertEqual(code, 1)
                self.assertIn("--https-port", emu.log())
                self.assertIn("in use", emu.log())

    def test_privileged_port_without_permission_explains_the_fixes(self):
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            first_free = int(f.read())
        self.assertGreater(first_free, 1, "every port is unprivileged here: nothing to test")
        port = min(443, first_free - 1)
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] \
            if os.geteuid() == 0 else []
        out = subprocess.run(drop + [os.environ.get("IOTHUB_EMULATOR_BIN", "iothub-emulator"),
                                     "--ephemeral", "--https-port", str(port)],
                             capture_output=True, text=True, timeout=20,
                             env=dict(os.environ, TMPDIR="/tmp"))
        self.assertEqual(out.returncode, 1, out.stderr)
        errors = [l for l in out.stderr.splitlines() if "ERROR" in l]
        self.assertEqual(len(errors), 1, out.stderr)
        for fix in ("permission denied", "--https-port 8443", "setcap", "Docker"):
            self.assertIn(fix, errors[0])
        self.assertEqual(out.stdout, "")

    def test_sigint_shuts_down_cleanly(self):
        emu = Emulator()
        with emu:
            emu.proc.send_signal(signal.SIGINT)
            self.assertEqual(emu.proc.wait(timeout=20), 0)
            self.assertIn("SIGINT received", emu.log())

    def test_policy_keys_are_per_run_and_replace_the_secondary(self):
        new_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        with tempfile.TemporaryDirectory() as state:
            with Emulator("--policy-key", RW + "=" + new_key, state_dir=state) as emu:
                for key, status in ((new_key, 200), (policy_key(RW), 401),
                                    (policy_secondary_key(RW), 401)):
                    token = sas_token(emu.host, key, RW)
                    self.assertEqual(emu.request("GET", "/devices", token=token).status, status)
                # Other policies keep their dev keys; the key never reaches the log.
                self.assertEqual(emu.request("GET", "/devices", "registryRead").status, 200)
                self.assertNotIn(new_key, emu.log())
            with Emulator(state_dir=state) as emu:
                # Without the flag the documented dev keys are back.
                self.assertEqual(emu.request("GET", "/devices", RW).status, 200)
                token = sas_token(emu.host, new_key, RW)
                self.assertEqual(emu.request("GET", "/devices", token=token).status, 401)

    def test_exposed_dev_keys_are_warned_about(self):
        with Emulator("--listen", "0.0.0.0", "--policy-key",
                      "iothubowner=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=") as emu:
            log = emu.log()
            self.assertIn("policy 'service' still has its well-known dev key", log)
            self.assertNotIn("policy 'iothubowner' still has", log)

    def test_bad_flags_are_explained(self):
        for args, text in ((["--https-port", "99999"], "--https-port"),
                           (["--listen", "nowhere"], "--listen"),
                           (["--device", "bad id"], "--device"),
                           (["--no-such-flag"], "unknown option")):
            out = subprocess.run([os.environ.get("IOTHUB_EMULATOR_BIN", "iothub-emulator")] + args,
                                 capture_output=True, text=True, timeout=20)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn(text, out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
