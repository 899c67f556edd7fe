"""decompose_bench --one with the one-year start's rounds capped at argv[1] (default 8)."""
import sys
sys.path.insert(0, "/work/main/bench")
if __name__ == "__main__":
    most = int(sys.argv.pop(1))
    from optimizer import decompose as d
    orig = d.master_allocate

    def capped(blocks, scenario, run, **kw):
        if scenario.years is None and kw.get("max_rounds") == d.LAGRANGE_EVERY * 2:
            kw["max_rounds"] = most
        return orig(blocks, scenario, run, **kw)

    d.master_allocate = capped
    from decompose_bench import main
    sys.argv = [sys.argv[0], "--one", "/work/main/bench/results/instances/partitioned-100000-seed7", "decomposed", "2", "--gap=0.005",
                "--years", "2016", "2020", "--relocation-rate=0.05", "--time-limit=1800.0"]
    main()
