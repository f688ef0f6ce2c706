"""tabgate step logic: plain, typed Python that never imports Prefect or DVC."""
