"""The technical detail inside a check message, in Dutch: lxml's XML syntax errors, Python's syntax errors, the
sandbox's and RestrictedPython's refusals, and the BPMN schema's complaints.

Each table maps the common messages of its source (English, from libxml2, CPython 3.11, RestrictedPython and
engine/sandbox.py) to a Dutch sentence; any other message becomes a general Dutch sentence, so a procesbeheerder
never reads half a sentence of English. The messages quote only diagram text (tag, attribute and variable names),
never case data.
"""

from __future__ import annotations

import re

Table = list[tuple[re.Pattern[str], str]]

_XML: Table = [
    (
        re.compile(r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)"),
        r"eindtag </\3> sluit de begintag <\1> van regel \2 niet af",
    ),
    (
        re.compile(r"Premature end of data in tag (\S+) line (\d+)"),
        r"het bestand houdt op terwijl <\1> van regel \2 nog open is",
    ),
    (
        re.compile(r"Couldn't find end of Start Tag (\S+) line (\d+)"),
        r"de begintag <\1> van regel \2 wordt niet met '>' afgesloten",
    ),
    (re.compile(r"Start tag expected, '<' not found"), "het bestand begint niet met een XML-element"),
    (re.compile(r"Document is empty"), "het bestand is leeg"),
    (re.compile(r"Extra content at the end of the document"), "na het hoofdelement staat nog meer inhoud"),
    (re.compile(r"AttValue: \" or ' expected"), "de waarde van een attribuut staat niet tussen aanhalingstekens"),
    (re.compile(r"Attribute (\S+) redefined"), r"attribuut \1 staat twee keer in hetzelfde element"),
    (re.compile(r"Specification mandates value for attribute (\S+)"), r"attribuut \1 heeft geen waarde"),
    (re.compile(r"attributes construct error"), "de attributen van het element zijn niet goed opgebouwd"),
    (
        re.compile(r"Namespace prefix (\S+) on (\S+) is not defined"),
        r"het voorvoegsel \1 (van <\1:\2>) is niet als namespace gedeclareerd",
    ),
    (
        re.compile(r"Namespace prefix (\S+) for (\S+) on (\S+) is not defined"),
        r"het voorvoegsel \1 is niet gedeclareerd",
    ),
    (re.compile(r"Entity '(.+)' not defined"), r"de entiteit &\1; is onbekend"),
    (re.compile(r"xmlParseEntityRef: no name"), "een los '&'-teken: schrijf &amp;"),
    (re.compile(r"EntityRef: expecting ';'"), "een entiteit zonder afsluitende ';'"),
    (re.compile(r"Unescaped '<' not allowed in attributes values"), "een '<' in een attribuutwaarde: schrijf &lt;"),
    (re.compile(r"Comment not terminated"), "commentaar zonder afsluitende -->"),
    (re.compile(r"CData section not finished"), "een CDATA-blok zonder afsluitende ]]>"),
    (re.compile(r"StartTag: invalid element name"), "ongeldige elementnaam"),
    (re.compile(r"(?:PCDATA )?invalid Char value (\d+)"), r"ongeldig teken (code \1) in de tekst"),
    (re.compile(r"Char 0x(\w+) out of allowed range"), r"ongeldig teken (code 0x\1)"),
    (re.compile(r"(?:Input is not proper UTF-8|.*encoding error).*"), "de tekst is geen geldige UTF-8"),
    (re.compile(r"expected '>'"), "'>' ontbreekt"),
    (re.compile(r"error parsing attribute name"), "hier hoort een attribuut of het einde van de tag ('>' of '/>')"),
    (
        re.compile(r"XML declaration allowed only at the start of the document"),
        "de XML-declaratie (<?xml ...?>) mag alleen helemaal aan het begin staan",
    ),
    (re.compile(r"Double hyphen within comment.*"), "'--' mag niet in commentaar staan"),
    (re.compile(r"(\S+): Empty XML namespace is not allowed"), r"\1: een lege namespace is niet toegestaan"),
    (re.compile(r"Excessive depth in document.*"), "de elementen zijn te diep genest"),
    (re.compile(r"EndTag: '</' not found"), "een eindtag ontbreekt"),
    (re.compile(r"Blank needed here"), "hier ontbreekt een spatie"),
]
XML_UNKNOWN = "de XML is hier niet goed opgebouwd"

_PYTHON: Table = [
    (re.compile(r"invalid syntax\. Perhaps you forgot a comma\?"), "ongeldige opbouw: ontbreekt er een komma?"),
    (
        re.compile(r"invalid syntax\. Maybe you meant '==' or ':=' instead of '='\?"),
        "ongeldige opbouw: bedoelt u '==' in plaats van '='?",
    ),
    (re.compile(r"invalid syntax"), "ongeldige opbouw"),
    (re.compile(r"'(.)' was never closed"), r"'\1' wordt nergens gesloten"),
    (re.compile(r"unmatched '(.)'"), r"'\1' sluit niets af"),
    (
        re.compile(r"closing parenthesis '(.)' does not match opening parenthesis '(.)'.*"),
        r"'\1' past niet bij '\2'",
    ),
    (re.compile(r"unterminated (?:triple-quoted )?string literal.*"), "tekst zonder afsluitend aanhalingsteken"),
    (re.compile(r"expected 'else' after 'if' expression"), "na 'if' ontbreekt 'else'"),
    (re.compile(r"expected ':'"), "':' ontbreekt"),
    (re.compile(r"expected an indented block.*"), "hier moet een ingesprongen regel volgen"),
    (re.compile(r"unexpected indent"), "onverwachte inspringing"),
    (re.compile(r"unindent does not match any outer indentation level"), "de inspringing past bij geen eerdere regel"),
    (re.compile(r"invalid character '(.)' \((U\+\w+)\)"), r"ongeldig teken '\1' (\2)"),
    (re.compile(r"invalid (?:decimal|hexadecimal|octal|binary|digit .*) literal"), "ongeldig getal"),
    (re.compile(r"leading zeros in decimal integer literals.*"), "een getal mag niet met 0 beginnen"),
    (re.compile(r"cannot assign to .*"), "hier kan niets aan toegewezen worden (bedoelt u '=='?)"),
    (re.compile(r"expression expected after dictionary key and ':'"), "na de sleutel en ':' ontbreekt een waarde"),
    (re.compile(r"unexpected EOF while parsing"), "de expressie houdt te vroeg op"),
    (re.compile(r"'(\w+)' outside (?:async )?function"), r"'\1' mag alleen in een functie staan"),
    (re.compile(r"'(\w+)' (?:not properly in|outside) loop"), r"'\1' mag alleen in een lus staan"),
]
PYTHON_UNKNOWN = "ongeldige Python-opbouw"

_UNDERSCORE = "namen die met '_' beginnen zijn afgeschermd"
_REFUSALS: Table = [
    (re.compile(r"import is not allowed"), "import is niet toegestaan"),
    (re.compile(r"\"\*\" imports are not allowed"), "import is niet toegestaan"),
    (
        re.compile(r"'\.(format|format_map)' is not allowed; use an f-string"),
        r"'.\1' is niet toegestaan; gebruik een f-string",
    ),
    (re.compile(r"'(\.?\w+)' is not allowed"), r"'\1' is niet toegestaan"),
    (re.compile(r"Exec calls are not allowed"), "exec() is niet toegestaan"),
    (re.compile(r"Eval calls are not allowed"), "eval() is niet toegestaan"),
    (
        re.compile(r"\"(\w+)\" is an invalid attribute name because it starts with \"_\""),
        rf"attribuut '\1': {_UNDERSCORE}",
    ),
    (re.compile(r"\"(\w+)\" is an invalid variable name because it starts with \"_\""), rf"naam '\1': {_UNDERSCORE}"),
    (
        re.compile(r"\"(\w+)\" is an invalid (?:attribute|variable) name because it ends with.*"),
        r"naam '\1' is afgeschermd",
    ),
    (re.compile(r"\"(\w+)\" is a restricted name.*"), r"'\1' is een afgeschermde naam"),
    (re.compile(r"\"(\w+)\" is a reserved name"), r"'\1' is een gereserveerde naam"),
    (re.compile(r"class definitions are not allowed"), "een klasse definiëren is niet toegestaan"),
    (re.compile(r"try/except is not allowed.*"), "try/except is niet toegestaan: een stap die misgaat, moet falen"),
    (re.compile(r"endless loop: .*"), "eindeloze lus: 'while True' zonder break of return"),
    (
        re.compile(r"a format width of 100 000 or more, or a computed width, is not allowed"),
        "een opmaakbreedte van 100 000 of meer, of een berekende breedte, is niet toegestaan",
    ),
    (re.compile(r"Augmented assignment of .* is not allowed"), "'+=' en dergelijke alleen op een gewone naam"),
    (re.compile(r"Unpacking in comprehensions is not allowed"), "uitpakken in een comprehension is niet toegestaan"),
    (re.compile(r"(\w+) statements are not allowed"), r"deze opdracht (\1) is niet toegestaan"),
]
REFUSAL_UNKNOWN = "deze code is in een script of expressie niet toegestaan"
_LINE = re.compile(r"line (\d+): (.*)$", re.DOTALL)

_JSON: Table = [
    (re.compile(r"Expecting value"), "hier wordt een waarde verwacht"),
    (re.compile(r"Expecting '(.)' delimiter"), r"'\1' ontbreekt"),
    (
        re.compile(r"Expecting property name enclosed in double quotes"),
        "een veldnaam moet tussen dubbele aanhalingstekens",
    ),
    (re.compile(r"Unterminated string starting at.*"), "tekst zonder afsluitend aanhalingsteken"),
    (re.compile(r"Extra data"), "na het JSON-object staat nog meer"),
    (re.compile(r"Invalid control character at.*"), "een stuurteken (zoals een regeleinde) binnen een tekst"),
    (re.compile(r"Invalid \\(?:escape|uXXXX escape).*"), "ongeldige escape-reeks in een tekst"),
]
JSON_UNKNOWN = "de JSON is hier niet goed opgebouwd"

_SCHEMA_ELEMENT = re.compile(
    r"Element '(?:\{[^}]*\})?([^']+)'(?:, attribute '([^']+)')?: (.*?)(?: \(line (\d+)\))?$", re.DOTALL
)
_SCHEMA: Table = [
    (re.compile(r"The attribute '(.+)' is not allowed"), r"attribuut \1 is hier niet toegestaan"),
    (re.compile(r"The attribute '(.+)' is required but missing"), r"attribuut \1 ontbreekt"),
    (re.compile(r"This element is not expected.*"), "dit element hoort hier niet (verkeerde plek of volgorde)"),
    (re.compile(r"Missing child element\(s\).*"), "er ontbreken onderliggende elementen"),
    (re.compile(r"'(.*)' is not a valid value of the .*"), r"'\1' is hier geen geldige waarde"),
    (re.compile(r"No match found for key-sequence \['(.*)'\].*"), r"verwijzing naar '\1', dat niet bestaat"),
    (re.compile(r"Duplicate key-sequence \['(.*)'\].*"), r"id '\1' komt meer dan eens voor"),
    (re.compile(r"Character content other than whitespace is not allowed.*"), "hier hoort geen tekst"),
]
SCHEMA_UNKNOWN = "voldoet niet aan het BPMN/DMN-schema"


def _first(table: Table, text: str, unknown: str) -> str:
    first_line = text.strip().splitlines()[0].rstrip(". ") if text.strip() else ""
    for pattern, replacement in table:
        found = pattern.fullmatch(first_line)
        if found is not None:
            return found.expand(replacement)
    return unknown


def xml_syntax(detail: str) -> str:
    """lxml's description of a well-formedness error (its position left off), in Dutch."""
    return _first(_XML, detail, XML_UNKNOWN)


def json_syntax(detail: str) -> str:
    """json's description of a decoding error, in Dutch."""
    return _first(_JSON, detail, JSON_UNKNOWN)


def python_syntax(detail: str) -> str:
    """A SyntaxError's message, in Dutch."""
    return _first(_PYTHON, detail, PYTHON_UNKNOWN)


def refusal(reason: str) -> str:
    """Why engine/sandbox.py refuses a script or expression ('line 2: import is not allowed'), in Dutch, the line
    kept; a syntax error is named as one."""
    found = _LINE.match(reason.strip())
    line, detail = (found.group(1), found.group(2)) if found else ("", reason)
    dutch = _first(_REFUSALS, detail, "")
    if not dutch:
        dutch = python_syntax(detail)
        dutch = f"syntaxfout: {dutch}" if dutch != PYTHON_UNKNOWN else REFUSAL_UNKNOWN
    return f"regel {line}: {dutch}" if line else dutch


def schema(message: str) -> str | None:
    """A BPMN/DMN schema error ("Element '{ns}startEvent', attribute 'x': ... (line 3)") in Dutch, or None if the
    message is not one."""
    found = _SCHEMA_ELEMENT.fullmatch(message.strip())
    if found is None:
        return None
    element, attribute, detail, line = found.groups()
    dutch = _first(_SCHEMA, detail, SCHEMA_UNKNOWN)
    subject = f"element <{element}>" + (f", attribuut {attribute}" if attribute and attribute not in dutch else "")
    where = f" (regel {line})" if line else ""
    return f"{subject}: {dutch}{where}"
