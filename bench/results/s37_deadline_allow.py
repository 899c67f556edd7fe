"""optimizer solve scenarios/deadline_2020.yaml --no-report with decompose.YEARS_ROUNDING_ALLOWANCE = argv[1] (driver only:
the allowance is read where the rounds' tolerance is set). usage: s37_deadline_allow.py 0.0015 OUT"""
import sys
if __name__ == "__main__":
    from optimizer import decompose as d
    d.YEARS_ROUNDING_ALLOWANCE = float(sys.argv[1])
    out = sys.argv[2]
    from optimizer.cli import run
    sys.argv = ["optimizer", "solve", "scenarios/deadline_2020.yaml", "--no-report", "--out", out]
    run()
