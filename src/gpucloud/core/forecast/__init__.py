"""Start-time forecasts: run times learned from history (:mod:`.runtimes`), the scheduling driver run forward on
a copy of the state with those run times (:mod:`.forward`), a whole queue's forecasts with ranges
(:mod:`.queue`), and the shapes a job could ask for to start sooner (:mod:`.advice`). Pure, like the core."""
