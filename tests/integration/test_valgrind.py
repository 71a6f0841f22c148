"""One whole stream life under valgrind: the emulator starts, a device connects, a
stream is asked for, accepted, relays bytes both ways and closes, the emulator stops; valgrind
must count zero errors and zero definitely or indirectly lost bytes. Not registered in the
sanitizer build, where ASan's own leak checker does this work."""
import os
import re
import tempfile
import unittest

from client_peers import device_agent, service
from harness import Emulator


class Valgrind(unittest.TestCase):
    def test_a_stream_life_cycle_is_clean(self):
        with tempfile.TemporaryDirectory() as tmp:
            log = os.path.join(tmp, "valgrind.log")
            wrapper = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                       "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                       "--num-callers=30", "--log-file=" + log]
            with Emulator("--device", "dev1", wrapper=wrapper, ready_timeout=120,
                          stop_timeout=120) as emu:
                agent = device_agent(emu, "dev1", ["echo"])
                try:
                    done = service(emu, "echo", "dev1", input="under valgrind\n" * 100,
                                   timeout=120)
                    self.assertEqual(done.returncode, 0, done.stderr)
                    self.assertEqual(done.stdout, "under valgrind\n" * 100)
                    rejected = service(emu, "stream", "nosuch", timeout=120)
                    self.assertIn("404 DeviceNotFound", rejected.stderr)
                finally:
                    agent.stop()
            # The harness has checked the exit code (0: valgrind's 99 would fail it); the log
            # says why if not.
            with open(log) as f:
                report = f.read()
            self.assertRegex(report, r"ERROR SUMMARY: 0 errors", report[-4000:])
            lost = re.findall(r"(definitely|indirectly) lost: ([\d,]+) bytes", report)
            self.assertTrue(all(n == "0" for _, n in lost), report[-4000:])


if __name__ == "__main__":
    unittest.main(verbosity=2)
