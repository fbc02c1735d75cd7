"""The shop's conversations, once, for every front (Telegram in handlers/, Kakao in kakao/).

Knows no chat app: imports shop/ (never telegram, storage, fulfillment, payments, httpx,
starlette). A front drives it with one call per customer turn::

    from chat.dialog import Dialog
    from chat.turns import Turn, Text, Tap, Command, Media, Paid

    dialog = Dialog(shop)
    reply = await dialog.handle(Turn(user, lang, caps, state, event))
    # persist reply.state for this customer; show reply.screens; run reply.effects

- ``user``: the shop's ``User``; ``lang``: "ko" | "en" (``chat.i18n.lang_of``).
- ``caps``: ``chat.screens.Capabilities`` — the front's limits (text length, label length,
  choices per screen and per row, list page size) and abilities (Stars, photos, edits).
  ``chat.screens.TELEGRAM`` is Telegram's; a front defines its own. Every screen is built
  to fit them, and ``chat.screens.fit`` guards the rest.
- ``state``: the JSON-able dict from the previous reply (``{}`` at first). The front stores
  it (Telegram: ``user_data["chat"]``, persisted by PTB; Kakao: the shop database).
- ``event``: ``Text(text)`` typed (a main-menu label counts: ``chat.menu.menu_key``),
  ``Tap(data)`` a tapped choice's data (old and forged data are answered safely),
  ``Command(name)`` (start, help, order, balance, orders, topup, cancel), ``Media(kind,
  ref)`` (a photo or sticker), ``Paid(...)`` (a payment the front collected: Stars).
- ``answer_within`` (optional): seconds the front can still wait before it must answer
  (KakaoTalk's 5-second rule); a confirmed order's panel call then finishes after it.

A ``Reply`` (``chat.turns``) has ``screens`` (``chat.screens.Screen``: HTML ``text`` with
escaped parameters — ``Screen.plain`` for plain-text fronts —, ``rows`` of ``Choice``
(label + opaque ASCII ``data`` ≤ 64 bytes, or a ``url``), ``menu`` (offer the main menu:
``Dialog.main_menu(lang, caps)``), ``replace`` (may replace the tapped screen), ``kind``
(which screen, e.g. "order.card")), ``toast``/``alert`` for the tap, ``clear_tapped``
(take the choices off the tapped screen), ``effects`` (``Invoice``) and the new ``state``.

Modules: ``dialog`` routes a turn (and ends idle flows); ``talk`` is a turn's working
context; ``home`` start/help/FAQ/terms/support/account; ``browse`` platform → category →
service menus, search, the service card and its description pages; ``order`` the
questions per service type, the confirmation card, confirm/cancel/back, repeat orders;
``topup`` bank transfer and Stars (and the place for card payment); ``history`` orders,
details, refresh, cancel/refill requests; ``news`` outbox events as screens; ``menu`` the
main menu; ``i18n`` + ``locales/{ko,en}`` every text; ``htmltext`` measuring and cutting
HTML, cleaning panel descriptions.

Tap data (all ASCII, ≤ 64 bytes; navigation carries its whole target, so an old button
still works): ``m:<menu key>``; ``c:p|P|C|s|d|q:…`` catalog; ``o:…`` order; ``h:…``
history; ``t:…`` top-up; ``a:…`` admin (news for admins, handled by the Telegram front).
"""
