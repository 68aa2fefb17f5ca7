"""Built-in adapters to local systems (the interface is :mod:`gateway.adapter`).

Each module holds one adapter and registers it in the ``vgw.adapters`` entry-point group
(setup.cfg), exactly as a third party's package would; the gateway finds them through
:func:`gateway.adapter.discover` and never imports them by name.

- ``national`` (:mod:`adapters.national`): the national field-coded format (``albp0003`` …,
  18-digit area ids), to and from a folder of JSON files;
- ``spreadsheet`` (:mod:`adapters.spreadsheet`): xlsx and csv files in a folder, with a
  column mapping from the sheet's (Chinese) headers to standard keys;
- ``zyh365`` (:mod:`adapters.zyh365`): a zyh365-style provincial platform;
- ``standard`` (:mod:`adapters.standard`): another gateway, over the exchange protocol
  (gateways federate).
"""
