"""decompose_bench --one with the multi-year rounds' first Lagrangian bound in round FIRST (argv[1]), then every 2."""
import sys
sys.path.insert(0, "/work/main/bench")
if __name__ == "__main__":
    first = int(sys.argv.pop(1))
    from optimizer import decompose as d
    orig = d._priced_round
    d._priced_round = lambda r, years: (r >= first and (r - first) % 2 == 0) if years else orig(r, years)
    from decompose_bench import main
    sys.argv = [sys.argv[0], "--one", "/work/main/bench/results/instances/partitioned-100000-seed7", "decomposed", "2", "--gap=0.005",
                "--years", "2016", "2020", "--relocation-rate=0.05", "--time-limit=1800.0"]
    main()
