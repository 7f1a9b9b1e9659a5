#!/usr/bin/env python3
"""Generates the Python client's typed surface from the contract.

Input: the encoded FileDescriptorSet of proto/gatehouse/v1 (with comments), as the
`descriptor-set` binary of this crate writes it. Output, into python/gatehouse/:

- types.py     one TypedDict per message and one Literal alias per enum, with the .proto comments
- _services.py one class per service in an asyncio and a blocking flavour, one method per RPC,
               and the mixins that put them on AsyncGatehouse and Gatehouse

    cargo run -p gatehouse-uniffi --features cli --bin descriptor-set -- /tmp/gatehouse.binpb
    python3 codegen/generate.py /tmp/gatehouse.binpb           # write
    python3 codegen/generate.py /tmp/gatehouse.binpb --check   # fail if the files are stale

Standard library only: the descriptor is read with the few lines of protobuf wire decoding below.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "gatehouse.v1"
OUT_DIR = Path(__file__).resolve().parent.parent / "python" / "gatehouse"

# The attribute each service gets on the client, as the Rust core names its accessors. A new
# service fails the generator until it is named here: names are API and are chosen, not derived.
SERVICE_ATTRIBUTES = {
    "SignalService": "signals",
    "IdentityService": "identities",
    "DecisionService": "decisions",
    "BlockerService": "blocker",
    "SmartUrlService": "smart_urls",
    "VerifyService": "verify",
    "AdminService": "admin",
}

# FieldDescriptorProto.Type -> the Python type of its protobuf-JSON value (64-bit integers come
# back as numbers: the binding asks for snake_case names and plain numbers). Bytes are base64 text
# in JSON; requests may pass bytes, which the client encodes.
SCALARS = {
    1: "float",  # double
    2: "float",  # float
    3: "int",  # int64
    4: "int",  # uint64
    5: "int",  # int32
    6: "int",  # fixed64
    7: "int",  # fixed32
    8: "bool",
    9: "str",
    12: "Union[str, bytes]",  # bytes
    13: "int",  # uint32
    15: "int",  # sfixed32
    16: "int",  # sfixed64
    17: "int",  # sint32
    18: "int",  # sint64
}
TYPE_MESSAGE, TYPE_ENUM = 11, 14
LABEL_REPEATED = 3


# --- protobuf wire decoding (just what descriptor.proto needs) ---------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes):
    """Yields (field number, value): ints for varints, bytes for length-delimited fields."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire_type == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire_type == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        yield number, value


def _packed_ints(value) -> list[int]:
    if isinstance(value, int):
        return [value]
    out, pos = [], 0
    while pos < len(value):
        item, pos = _varint(value, pos)
        out.append(item)
    return out


# --- the contract, as far as the generator needs it ---------------------------------------------


@dataclass
class Field:
    name: str
    type: int
    type_name: str
    repeated: bool
    doc: str = ""


@dataclass
class Message:
    full_name: str
    fields: list[Field] = field(default_factory=list)
    map_entry: bool = False
    doc: str = ""


@dataclass
class Enum:
    full_name: str
    values: list[tuple[str, str]] = field(default_factory=list)  # (name, doc)
    doc: str = ""


@dataclass
class Method:
    name: str
    input: str
    output: str
    doc: str = ""


@dataclass
class Service:
    name: str
    methods: list[Method] = field(default_factory=list)
    doc: str = ""


@dataclass
class Contract:
    messages: dict[str, Message] = field(default_factory=dict)
    enums: dict[str, Enum] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)


def _comment(text: str) -> str:
    lines = [line[1:] if line.startswith(" ") else line for line in text.strip("\n").split("\n")]
    return "\n".join(lines).strip()


def _read_enum(data: bytes, prefix: str, docs: dict, path: tuple) -> Enum:
    enum = Enum(full_name="")
    value_index = 0
    for number, value in _fields(data):
        if number == 1:
            enum.full_name = f"{prefix}.{value.decode()}"
        elif number == 2:
            name = next(v.decode() for n, v in _fields(value) if n == 1)
            enum.values.append((name, docs.get(path + (2, value_index), "")))
            value_index += 1
    enum.doc = docs.get(path, "")
    return enum


def _read_message(data: bytes, prefix: str, docs: dict, path: tuple, contract: Contract) -> None:
    message = Message(full_name="")
    nested, enums = [], []
    field_index = 0
    for number, value in _fields(data):
        if number == 1:
            message.full_name = f"{prefix}.{value.decode()}"
        elif number == 2:
            parts = dict(_fields(value))
            message.fields.append(
                Field(
                    name=parts[1].decode(),
                    type=parts[5],
                    type_name=parts.get(6, b"").decode(),
                    repeated=parts.get(4) == LABEL_REPEATED,
                    doc=docs.get(path + (2, field_index), ""),
                )
            )
            field_index += 1
        elif number == 3:
            nested.append(value)
        elif number == 4:
            enums.append(value)
        elif number == 7:
            message.map_entry = dict(_fields(value)).get(7) == 1
    message.doc = docs.get(path, "")
    contract.messages[message.full_name] = message
    for index, data in enumerate(nested):
        _read_message(data, message.full_name, docs, path + (3, index), contract)
    for index, data in enumerate(enums):
        enum = _read_enum(data, message.full_name, docs, path + (4, index))
        contract.enums[enum.full_name] = enum


def read_contract(descriptor_set: bytes) -> Contract:
    contract = Contract()
    for number, file_data in _fields(descriptor_set):
        if number != 1:
            continue
        parts: dict[int, list] = {}
        for n, v in _fields(file_data):
            parts.setdefault(n, []).append(v)
        package = parts.get(2, [b""])[0].decode()
        if package != PACKAGE:
            continue
        docs = {}
        for info in parts.get(9, []):
            for n, location in _fields(info):
                if n != 1:
                    continue
                loc_parts: dict[int, list] = {}
                for ln, lv in _fields(location):
                    loc_parts.setdefault(ln, []).append(lv)
                loc_path = tuple(i for chunk in loc_parts.get(1, []) for i in _packed_ints(chunk))
                if 3 in loc_parts:
                    docs[loc_path] = _comment(loc_parts[3][0].decode())
        prefix = f".{package}"
        for index, data in enumerate(parts.get(4, [])):
            _read_message(data, prefix, docs, (4, index), contract)
        for index, data in enumerate(parts.get(5, [])):
            enum = _read_enum(data, prefix, docs, (5, index))
            contract.enums[enum.full_name] = enum
        for index, data in enumerate(parts.get(6, [])):
            service = Service(name="", doc=docs.get((6, index), ""))
            method_index = 0
            for n, v in _fields(data):
                if n == 1:
                    service.name = v.decode()
                elif n == 2:
                    method_parts = dict(_fields(v))
                    service.methods.append(
                        Method(
                            name=method_parts[1].decode(),
                            input=method_parts[2].decode(),
                            output=method_parts[3].decode(),
                            doc=docs.get((6, index, 2, method_index), ""),
                        )
                    )
                    method_index += 1
            contract.services.append(service)
    # the order the client lists its attributes in; unnamed services last (render_services refuses them)
    order = list(SERVICE_ATTRIBUTES)
    contract.services.sort(key=lambda s: order.index(s.name) if s.name in order else len(order))
    return contract


# --- rendering ----------------------------------------------------------------------------------

HEADER = '''"""{what}

Generated by sdk-python/codegen/generate.py from proto/gatehouse/v1: do not edit; change the
.proto files and run sdk-python/generate.sh.
"""
'''


def py_name(full_name: str) -> str:
    """`.gatehouse.v1.Outer.Inner` -> `Outer_Inner` (nested types are rare; flat names read well)."""
    return full_name[len(f".{PACKAGE}.") :].replace(".", "_")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def docstring(text: str, indent: str) -> str:
    if not text:
        return ""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    first, *rest = text.split("\n")
    if not rest:
        return f'{indent}"""{first}"""\n'
    body = "\n".join(f"{indent}{line}" if line else "" for line in rest)
    return f'{indent}"""{first}\n{body}\n{indent}"""\n'


def field_type(f: Field, contract: Contract) -> str:
    if f.type == TYPE_MESSAGE:
        target = contract.messages[f.type_name]
        if target.map_entry:
            value = next(x for x in target.fields if x.name == "value")
            return f"Dict[str, {field_type(value, contract)}]"
        inner = py_name(f.type_name)
    elif f.type == TYPE_ENUM:
        inner = py_name(f.type_name)
    else:
        inner = SCALARS[f.type]
    return f"List[{inner}]" if f.repeated else inner


def render_types(contract: Contract) -> str:
    out = [HEADER.format(what="Typed shapes of every Gatehouse request, response and enum.\n\n"
                         "Messages are TypedDicts in the protobuf JSON mapping with the .proto field\n"
                         "names. Requests may leave any field out (proto3: absent means the default);\n"
                         "responses carry every field, except message fields that are not set.\n"
                         "Enums are the value names; requests may also pass the numbers. 64-bit\n"
                         "integers are ints, bytes are base64 text (requests may pass bytes).")]
    out.append("from __future__ import annotations\n\nfrom typing import Dict, List, Literal, TypedDict, Union\n")
    names = []
    for enum in sorted(contract.enums.values(), key=lambda e: py_name(e.full_name)):
        name = py_name(enum.full_name)
        names.append(name)
        values = "\n".join(f'    "{value}",' for value, _ in enum.values)
        out.append(f"\n{name} = Literal[\n{values}\n]\n")
        doc = enum.doc
        value_docs = "\n".join(f"- ``{value}``: {text}" for value, text in enum.values if text)
        if value_docs:
            doc = f"{doc}\n\n{value_docs}" if doc else value_docs
        out.append(docstring(doc, ""))
    for message in sorted(contract.messages.values(), key=lambda m: py_name(m.full_name)):
        if message.map_entry:
            continue
        name = py_name(message.full_name)
        names.append(name)
        if any(keyword.iskeyword(f.name) for f in message.fields):
            raise SystemExit(f"{name}: a field named after a Python keyword needs the functional TypedDict form")
        out.append(f"\n\nclass {name}(TypedDict, total=False):\n")
        out.append(docstring(message.doc or f"The {name} message.", "    "))
        for f in message.fields:
            out.append(f"\n    {f.name}: {field_type(f, contract)}\n")
            out.append(docstring(f.doc, "    "))
        if not message.fields:
            out.append("\n")
    out.append("\n\n__all__ = [\n" + "".join(f'    "{n}",\n' for n in sorted(names)) + "]\n")
    return "".join(out)


def render_services(contract: Contract) -> str:
    unnamed = [s.name for s in contract.services if s.name not in SERVICE_ATTRIBUTES]
    if unnamed:
        raise SystemExit(f"name the client attribute of {unnamed} in SERVICE_ATTRIBUTES")
    out = [HEADER.format(what="One class per Gatehouse service, one method per RPC, asyncio and blocking.")]
    out.append(
        "from __future__ import annotations\n\n"
        "from typing import Any, Awaitable, Callable, Mapping, Optional\n\n"
        "from . import types\n\n"
        "AsyncCall = Callable[[str, Optional[Mapping[str, Any]]], Awaitable[Any]]\n"
        "BlockingCall = Callable[[str, Optional[Mapping[str, Any]]], Any]\n"
    )
    count = 0
    for service in contract.services:
        for flavour in ("async", "blocking"):
            is_async = flavour == "async"
            cls = f"{'Async' if is_async else ''}{service.name}"
            call_type = "AsyncCall" if is_async else "BlockingCall"
            out.append(f"\n\nclass {cls}:\n")
            summary = service.doc or service.name
            how = "Awaitable calls (asyncio)." if is_async else "Blocking calls."
            out.append(docstring(f"{summary}\n\n{how} Reached as ``client.{SERVICE_ATTRIBUTES[service.name]}``.", "    "))
            out.append(f"\n    def __init__(self, call: {call_type}) -> None:\n        self._call = call\n")
            for method in service.methods:
                request, response = py_name(method.input), py_name(method.output)
                keyword_async = "async " if is_async else ""
                out.append(
                    f"\n    {keyword_async}def {snake(method.name)}(\n"
                    f"        self, request: Optional[types.{request}] = None\n"
                    f"    ) -> types.{response}:\n"
                )
                out.append(docstring(f"{method.doc}\n\n``{service.name}/{method.name}``".strip(), "        "))
                awaiting = "await " if is_async else ""
                out.append(f'        return {awaiting}self._call("{service.name}/{method.name}", request)\n')
                count += is_async
    for flavour in ("Async", "Blocking"):
        prefix = "Async" if flavour == "Async" else ""
        out.append(f"\n\nclass {flavour}Services:\n")
        out.append(docstring(f"The service attributes of {'AsyncGatehouse' if prefix else 'Gatehouse'}.", "    "))
        out.append("\n")
        for service in contract.services:
            out.append(f"    {SERVICE_ATTRIBUTES[service.name]}: {prefix}{service.name}\n")
            out.append(docstring(service.doc.split("\n\n")[0], "    "))
        call_type = "AsyncCall" if prefix else "BlockingCall"
        out.append(f"\n    def _bind_services(self, call: {call_type}) -> None:\n")
        for service in contract.services:
            out.append(f"        self.{SERVICE_ATTRIBUTES[service.name]} = {prefix}{service.name}(call)\n")
    rpcs = [f"{s.name}/{m.name}" for s in contract.services for m in s.methods]
    out.append("\n\n#: Every RPC as ``Service/Method``, as the classes above call them.\nRPCS = (\n")
    out.extend(f'    "{rpc}",\n' for rpc in rpcs)
    out.append(")\n")
    assert count == len(rpcs)
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("descriptor_set", type=Path, help="the encoded FileDescriptorSet")
    parser.add_argument("--check", action="store_true", help="fail if the files are not up to date")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    contract = read_contract(args.descriptor_set.read_bytes())
    if not contract.services:
        raise SystemExit(f"no {PACKAGE} services in {args.descriptor_set}")
    outputs = {"types.py": render_types(contract), "_services.py": render_services(contract)}
    stale = []
    for name, text in outputs.items():
        path = args.out_dir / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    rpcs = sum(len(s.methods) for s in contract.services)
    if stale:
        print(f"stale: {', '.join(stale)}; run sdk-python/generate.sh", file=sys.stderr)
        return 1
    verb = "checked" if args.check else "wrote"
    print(f"{verb} {len(outputs)} files: {len(contract.services)} services, {rpcs} RPCs, "
          f"{sum(not m.map_entry for m in contract.messages.values())} messages, {len(contract.enums)} enums")
    return 0


if __name__ == "__main__":
    sys.exit(main())
