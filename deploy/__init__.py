"""Deploy to a real Google Cloud project: ``python -m deploy --project P --region R [--dry-run]``.

``deploy.plan`` renders every command (pure: no I/O, no credentials); ``deploy.run`` executes them in
order and stops at the first failure; ``deploy.files`` writes the two generated inputs (the staged
Firebase rules directory and the bucket's CORS file). docs/DEPLOY.md explains each step and its cost.
"""
