"""The real Application against the emulator: /start and the main menu."""

from __future__ import annotations


async def test_start_shows_balance_and_menu(env):
    await env.credit(1, 18_500)
    u = env.user(1)
    await u.send_command("/start")
    msg = await u.wait_for(r"현재 잔액")
    assert "18,500원" in msg.text
    assert "🛒 주문하기" in u.current_keyboard()
    langs = {key[-1] for key in env.emu.commands}
    assert {"ko", "en"} <= langs, env.emu.commands


async def test_english_user_gets_english(env):
    u = env.user(2, language_code="en")
    await u.send_command("/start")
    msg = await u.wait_for(r"Balance")
    assert "0 KRW" in msg.text


async def test_support_page_says_if_open(env):
    u = env.user(3)
    await u.send_text("☎️ 고객센터")
    msg = await u.wait_for(r"고객센터")
    assert "010-8592-8450" in msg.text
