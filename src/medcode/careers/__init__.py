"""Jobs (CareerCenter): employers post coding jobs; coders search, filter, apply and get alerts.

Pure parts (no Django import): vocab, query, files, images, markup, jsonld. The rest is the
Django app: models, actions (every change of state), thin views, forms, feeds, the API, tasks.
"""
