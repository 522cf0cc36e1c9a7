"""Deploy to a real Google Cloud project: ``python -m deploy --project P --region R [--dry-run]``.

``deploy.plan`` renders every command (pure: no I/O, no credentials); ``deploy.run`` executes them in
order and stops at the first failure; ``deploy.files`` stages what gets uploaded (the functions'
runtime source, the Firebase rules directory, the web page for Hosting) and writes the bucket's CORS
file; ``deploy/monitoring/`` holds the log-based metrics, alert policies and dashboard;
``deploy.smoke`` (``python -m deploy smoke``) checks a deployed project end to end. Standard library
only at import time, and never the local-cloud package. docs/DEPLOY.md explains each step and cost.
"""
