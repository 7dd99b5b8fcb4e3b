"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";
import { logout, session, type Session } from "@/lib/api";

const PAGES = [
  ["/", "Desk"],
  ["/chart/", "Chart"],
  ["/blotter/", "Blotter"],
  ["/agents/", "Agents"],
  ["/runs/", "Runs"],
] as const;

export function Nav() {
  const path = usePathname();
  const [who, setWho] = useState<Session | null>(null);
  const [theme, setTheme] = useState<string>("dark");
  useEffect(() => {
    setWho(session());
    setTheme(document.documentElement.dataset.theme || "dark");
  }, [path]);
  const flip = () => {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    window.localStorage.setItem("octet.theme", next);
    setTheme(next);
  };
  if (path.startsWith("/login")) return null;
  return (
    <header className="top">
      <nav aria-label="Pages">
        <span className="brand">Octet</span>
        {PAGES.map(([href, label]) => (
          <Link key={href} href={href} aria-current={path === href || (href !== "/" && path.startsWith(href)) ? "page" : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <div className="who">
        <button type="button" onClick={flip} aria-label={`Switch to the ${theme === "dark" ? "light" : "dark"} theme`}>
          {theme === "dark" ? "Light" : "Dark"}
        </button>
        {who && (
          <>
            <span data-testid="whoami">
              {who.name} · <b>{who.role}</b>
            </span>
            <button
              type="button"
              onClick={() => {
                logout();
                window.location.assign("/login/");
              }}
            >
              Log out
            </button>
          </>
        )}
      </div>
    </header>
  );
}
