"""A LaML document (text) → its verbs, checked before anything runs: unknown or misplaced
verbs and bad attribute values are errors that name the element, as Twilio's schema check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from wirexa.laml.nodes import LamlError, Node, parse_children
from wirexa.laml.steps import Verb
from wirexa.laml.verbs import NOUNS, TOP_LEVEL


def to_node(element: ET.Element) -> Node:
    name = element.tag.rsplit("}", 1)[-1]  # a namespace, if any, is ignored
    return Node(
        name=name,
        attrs={k.rsplit("}", 1)[-1].lower(): v for k, v in element.attrib.items()},
        text="".join(element.itertext()).strip(),
        children=tuple(to_node(child) for child in element),
    )


def parse_document(text: str) -> list[Verb]:
    """The verbs of a `<Response>` document, in order; raises LamlError."""
    try:
        root = SafeET.fromstring(text.strip())
    except DefusedXmlException as exc:
        raise LamlError(f"document refused: {exc}", code=12100) from None
    except ET.ParseError as exc:
        raise LamlError(f"document is not well-formed XML: {exc}", code=12100) from None
    node = to_node(root)
    if node.name != "Response":
        raise LamlError(f"the document's root element must be <Response>, not <{node.name}>", code=12100)
    return parse_children(node.children, TOP_LEVEL, "<Response>", known=NOUNS)
