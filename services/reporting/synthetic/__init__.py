"""A synthetic province in the reporting service's read models: rows.py makes the rows, load.py
writes them (`shuangjian dev generate`, which runs `python -m services.reporting.synthetic`)."""
