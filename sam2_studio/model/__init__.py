"""SAM 2 in pure torch: configurations, modules, checkpoint loading, the image predictor."""
