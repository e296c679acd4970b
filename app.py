"""Start the web chat on the shipped article: python app.py [--host 127.0.0.1] [--port 7860]"""
import argparse

from qa.cli import _quiet_libraries
from qa.web import serve

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--index", default=None, help="index folder (default: ./index)")
    args = parser.parse_args()
    _quiet_libraries()
    serve(host=args.host, port=args.port, index_dir=args.index)
