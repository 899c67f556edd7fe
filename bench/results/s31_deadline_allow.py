import sys, time
from optimizer import decompose
from optimizer.multiyear import solve_multiyear
from optimizer.scenario import load_scenario

def main():
    decompose.YEARS_ROUNDING_ALLOWANCE = float(sys.argv[1])
    sc = load_scenario("scenarios/deadline_2020.yaml")
    t = time.perf_counter()
    r = solve_multiyear(sc, progress=lambda m: print(f"{time.perf_counter()-t:7.1f} {m}", flush=True) if "MIPs:" not in m or "work" in m else None)
    print("total", round(time.perf_counter() - t, 1), r.manifest["objective"], r.manifest["bound"], r.manifest["gap"])

if __name__ == "__main__":
    main()
