"""Unit tests of bench.py's answer check and statistics (no server needed):

    cd tests/sfn_clients && ../../.tools/venv/bin/python -m unittest -v test_bench
"""

from __future__ import annotations

import json
import unittest

import bench


def described(status: str = "SUCCEEDED", output: object = None, **extra: object) -> dict:
    d: dict = {"status": status, **extra}
    if output is not None:
        d["output"] = output if isinstance(output, str) else json.dumps(output)
    return d


class Check(unittest.TestCase):
    def test_the_expected_output_of_either_branch_passes(self) -> None:
        bench.check(described(output={"n": 7, "band": "low", "tag": {"seen": True}}), {"n": 7})
        bench.check(described(output={"tag": {"seen": True}, "band": "high", "n": 50}), {"n": 50})

    def test_a_number_equal_by_value_passes(self) -> None:
        bench.check(described(output={"n": 7.0, "band": "low", "tag": {"seen": True}}), {"n": 7})

    def assert_wrong(self, d: dict, payload: dict, kind: str) -> None:
        with self.assertRaises(bench.WrongAnswer) as caught:
            bench.check(d, payload)
        self.assertEqual(caught.exception.kind, kind)

    def test_the_other_branch_is_a_wrong_output(self) -> None:
        out = {"n": 50, "band": "low", "tag": {"seen": True}}
        self.assert_wrong(described(output=out), {"n": 50}, "wrong output")

    def test_a_missing_or_extra_member_is_a_wrong_output(self) -> None:
        self.assert_wrong(described(output={"n": 7, "band": "low"}), {"n": 7}, "wrong output")
        out = {"n": 7, "band": "low", "tag": {"seen": True}, "m": 1}
        self.assert_wrong(described(output=out), {"n": 7}, "wrong output")

    def test_one_is_not_true(self) -> None:
        out = {"n": 7, "band": "low", "tag": {"seen": 1}}
        self.assert_wrong(described(output=out), {"n": 7}, "wrong output")

    def test_a_failed_execution_is_reported_with_its_error(self) -> None:
        d = described("FAILED", error="States.Runtime", cause="Invalid path '$.n'")
        with self.assertRaises(bench.WrongAnswer) as caught:
            bench.check(d, {"m": 7})
        self.assertEqual(caught.exception.kind, "FAILED States.Runtime")
        self.assertIn("Invalid path '$.n'", caught.exception.detail)

    def test_other_final_statuses_are_errors(self) -> None:
        for status in ("ABORTED", "TIMED_OUT"):
            self.assert_wrong(described(status), {"n": 1}, f"{status} None")

    def test_success_without_json_output_is_an_error(self) -> None:
        self.assert_wrong(described(output="not json"), {"n": 1}, "output not JSON")
        self.assert_wrong(described(), {"n": 1}, "output not JSON")

    def test_success_for_an_input_without_n_is_an_error(self) -> None:
        out = {"n": None, "band": "low", "tag": {"seen": True}}
        self.assert_wrong(described(output=out), {"m": 7}, "wrong output")


class Statistics(unittest.TestCase):
    def test_nearest_rank_percentiles(self) -> None:
        values = [float(x) for x in range(1, 101)]
        self.assertEqual(bench.percentile(values, 50), 50.0)
        self.assertEqual(bench.percentile(values, 90), 90.0)
        self.assertEqual(bench.percentile(values, 99), 99.0)
        self.assertEqual(bench.percentile([3.0], 99), 3.0)
        self.assertEqual(bench.percentile([1.0, 2.0], 50), 1.0)

    def test_median_of_even_and_odd_counts(self) -> None:
        self.assertEqual(bench.median([3.0, 1.0, 2.0]), 2.0)
        self.assertEqual(bench.median([4.0, 1.0, 2.0, 3.0]), 2.5)

    def test_ratio_is_a_dash_without_correct_executions(self) -> None:
        self.assertEqual(bench.ratio(200.0, 2.0), "100.0×")
        self.assertEqual(bench.ratio(5.0, 0.0), "–")
        self.assertEqual(bench.ratio(float("nan"), 2.0), "–")
        self.assertEqual(bench.ratio(2.0, float("nan")), "–")


if __name__ == "__main__":
    unittest.main()
