"""Start the web chat on the shipped article: python app.py [--host 127.0.0.1] [--port 7860] [--auth USER:PASSWORD]"""
import argparse
import sys

from qa.cli import _quiet_libraries
from qa.web import parse_auth, serve

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--index", default=None, help="index folder (default: ./index)")
    parser.add_argument("--auth", default=None, help="USER:PASSWORD that every visitor must give (Gradio's login)")
    args = parser.parse_args()
    try:
        auth = parse_auth(args.auth)
    except ValueError as e:
        sys.exit(f"error: {e}")
    _quiet_libraries()
    serve(host=args.host, port=args.port, index_dir=args.index, auth=auth)
