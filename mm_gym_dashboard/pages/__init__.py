"""The dashboard's pages; each module has ``render(root)`` drawing it with Streamlit."""
