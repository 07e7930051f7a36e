#!/usr/bin/env python3
"""Checks an SVG written by `kestrel summary --svg`: it parses as XML (Python's parser), holds
exactly the expected number of node boxes (<g class="node ...">) and one input box, and every
edge (<path class="edge ...">) joins two drawn boxes, from a higher row to a lower one.

  check_graph_svg.py FILE NODES"""
import sys
import xml.dom.minidom

path, expected = sys.argv[1], int(sys.argv[2])
try:
    doc = xml.dom.minidom.parse(path)
except Exception as e:  # noqa: BLE001 - any parse failure is the finding
    sys.exit(f"check_graph_svg: {path} is not well-formed XML: {e}")
groups = doc.getElementsByTagName("g")
layer = {}
nodes = inputs = 0
for g in groups:
    classes = g.getAttribute("class").split()
    if "node" in classes or "input" in classes:
        layer[int(g.getAttribute("data-value"))] = int(g.getAttribute("data-layer"))
        nodes += "node" in classes
        inputs += "input" in classes
if nodes != expected or inputs != 1:
    sys.exit(f"check_graph_svg: {path} has {nodes} node boxes and {inputs} input boxes, "
             f"expected {expected} and 1")
edges = [p for p in doc.getElementsByTagName("path") if "edge" in p.getAttribute("class").split()]
if len(edges) < expected:
    sys.exit(f"check_graph_svg: {path} has {len(edges)} edges for {expected} nodes")
for p in edges:
    a, b = int(p.getAttribute("data-from")), int(p.getAttribute("data-to"))
    if a not in layer or b not in layer or layer[a] >= layer[b]:
        sys.exit(f"check_graph_svg: {path}: edge {a} -> {b} does not go down between two boxes")
