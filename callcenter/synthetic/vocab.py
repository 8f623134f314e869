"""Word lists of the synthetic city: names, districts and their streets and grids, places,
request templates per topic, departments beyond config/departments.toml, seasonal and daily
rhythm. Pure data and small builders; no randomness of its own (callers pass a Random)."""

from __future__ import annotations

import random
from dataclasses import dataclass


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


CITY = "北京市"
AREA_CODE = "010"

# Surnames with rough shares (per mille) of the population; the long tail shares the rest.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 72), ("李", 72), ("张", 69), ("刘", 54), ("陈", 45), ("杨", 32), ("赵", 23),
    ("黄", 22), ("周", 21), ("吴", 20), ("徐", 17), ("孙", 16), ("胡", 13), ("朱", 13),
    ("高", 12), ("林", 12), ("何", 12), ("郭", 11), ("马", 11), ("罗", 9), ("梁", 9),
    ("宋", 8), ("郑", 8), ("谢", 7), ("韩", 7), ("唐", 7), ("冯", 7), ("于", 6), ("董", 6),
    ("萧", 6), ("程", 5), ("曹", 5), ("袁", 5), ("邓", 5), ("许", 5), ("傅", 4), ("沈", 4),
    ("曾", 4), ("彭", 4), ("吕", 4), ("苏", 4), ("卢", 4), ("蒋", 4), ("蔡", 4), ("贾", 3),
    ("丁", 3), ("魏", 3), ("薛", 3), ("叶", 3), ("阎", 3), ("余", 3), ("潘", 3), ("杜", 3),
    ("戴", 3), ("夏", 2), ("钟", 2), ("汪", 2), ("田", 2), ("任", 2), ("姜", 2), ("范", 2),
    ("方", 2), ("石", 2), ("姚", 2), ("谭", 2), ("廖", 2), ("邹", 2), ("熊", 2), ("金", 2),
    ("陆", 2), ("郝", 2), ("孔", 2), ("白", 2), ("崔", 2), ("康", 2), ("毛", 2), ("邱", 2),
    ("秦", 2), ("江", 2), ("史", 2), ("顾", 2), ("侯", 2), ("邵", 2), ("孟", 2), ("龙", 2),
    ("万", 2), ("段", 1), ("雷", 1), ("钱", 1), ("汤", 1), ("尹", 1), ("黎", 1), ("易", 1),
    ("常", 1), ("武", 1), ("乔", 1), ("贺", 1), ("赖", 1), ("龚", 1), ("文", 1), ("欧阳", 0.3),
    ("司马", 0.1), ("上官", 0.1), ("诸葛", 0.1),
)  # fmt: skip

GIVEN_MALE = _split(
    "伟 强 磊 军 勇 杰 涛 斌 超 明 刚 平 辉 鹏 华 飞 鑫 波 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 "
    "峰 建 文 亮 成 志 海 东 博 斌 晨 阳 毅 鸿 振 国 忠 庆 立 德 永 春 兵 松 晓 家 思 天 子 一"
)
GIVEN_FEMALE = _split(
    "芳 娜 敏 静 丽 艳 娟 霞 秀 英 玲 燕 红 琳 萍 婷 雪 慧 洁 颖 倩 晶 雯 欣 悦 璐 佳 琪 月 梅 "
    "莉 兰 凤 琴 云 华 丹 蕾 薇 婧 岚 彤 妍 瑶 晓 春 桂 淑 玉 珍 思 雨 梦 诗 一 子"
)

# Homophones a typist may pick instead (同音字): the name typos of repeat callers.
HOMOPHONES: dict[str, str] = {
    "伟": "玮", "玮": "伟", "丽": "莉", "莉": "丽", "静": "婧", "婧": "静", "敏": "珉",
    "芳": "方", "军": "君", "杰": "洁", "洁": "杰", "涛": "韬", "明": "铭", "华": "桦",
    "霞": "侠", "平": "萍", "萍": "平", "刚": "钢", "勇": "永", "永": "勇", "艳": "燕",
    "燕": "艳", "娟": "鹃", "峰": "锋", "辉": "晖", "英": "瑛", "红": "虹", "玲": "琳",
    "琳": "玲", "建": "健", "健": "建", "文": "雯", "雯": "文", "斌": "彬", "超": "潮",
    "波": "博", "博": "波", "鹏": "朋", "宇": "雨", "雨": "宇", "浩": "皓", "婷": "亭",
    "慧": "惠", "林": "琳", "晨": "辰", "阳": "洋", "立": "丽", "德": "得", "春": "纯",
    "晓": "小", "思": "丝", "梅": "玫", "兰": "岚", "云": "芸", "丹": "单", "月": "悦",
    "悦": "月", "佳": "嘉", "琪": "琦", "欣": "心", "颖": "莹", "倩": "茜", "雪": "学",
    "凯": "恺", "俊": "骏", "海": "亥", "东": "冬", "国": "果", "志": "智", "亮": "靓",
}  # fmt: skip


@dataclass(frozen=True)
class District:
    code: str  # GB/T 2260 code: the first 6 digits of its residents' ID numbers
    name: str
    population: float  # millions, for weights
    streets: int


DISTRICTS: tuple[District, ...] = (
    District("110101", "东城区", 0.71, 17),
    District("110102", "西城区", 1.10, 15),
    District("110105", "朝阳区", 3.45, 43),
    District("110106", "丰台区", 2.02, 26),
    District("110107", "石景山区", 0.57, 9),
    District("110108", "海淀区", 3.13, 29),
    District("110109", "门头沟区", 0.39, 13),
    District("110111", "房山区", 1.31, 28),
    District("110112", "通州区", 1.84, 22),
    District("110113", "顺义区", 1.32, 25),
    District("110114", "昌平区", 2.27, 22),
    District("110115", "大兴区", 1.99, 22),
    District("110116", "怀柔区", 0.44, 16),
    District("110117", "平谷区", 0.46, 18),
    District("110118", "密云区", 0.53, 20),
    District("110119", "延庆区", 0.35, 18),
)

# Born elsewhere: region codes of other provinces' districts (residents who moved here).
OTHER_REGIONS = (
    "130102", "130602", "120101", "370102", "410105", "340104", "210102", "420106",
    "510104", "320102", "150102", "140105", "230102", "610103", "360102", "430102",
)  # fmt: skip

NAME_ROOTS = _split(
    "和平 建国 光华 安贞 望京 团结 东风 胜利 新华 长青 育新 花园 幸福 永安 广安 西山 南苑 "
    "北苑 清河 马坊 沙河 天宫 金顶 青塔 卢沟 太平 长阳 良乡 宋庄 台湖 潞城 永乐 仁和 后沙 "
    "杨镇 牛栏 回龙 天通 东小 城南 城北 兴丰 林校 清源 观音 旧宫 亦庄 瀛海 渤海 桥梓 雁栖 "
    "琉璃 泉河 兴谷 渔阳 峪口 鼓楼 果园 檀营 十里 溪翁 香水 百泉 儒林 康庄 永宁 八达 延庆 "
    "滨河 朝晖 紫竹 万柳 燕园 学院 中关 海淀 双井 劲松 潘家 垡头 麦子 酒仙 来广 崔各 孙河 "
    "金盏 黑庄 平房 常营 管庄 三间 高碑 八里 南磨 王四 东坝 首都 奥运 亚运 大屯 小关 和平 "
    "安华 椿树 陶然 天桥 白纸 牛街 广内 广外 月坛 展览 德胜 金融 什刹 西长 新街 东直 北新 "
    "交道 景山 安定 东华 朝阳 建外 龙潭 体育 永定 崇文 前门 宣武 万寿 五里 羊坊 玉泉 田村 "
    "八角 古城 苹果 金顶 鲁谷 五环 卢谷 长辛 云岗 新村 王佐 花乡 看丹 宛平 西罗 大红 方庄"
)

STREET_SUFFIXES = ("街道", "街道", "街道", "地区", "镇")
ROAD_SUFFIXES = ("路", "街", "大街", "胡同", "南路", "北路", "东路", "西路")
COMPOUND_SUFFIXES = ("小区", "家园", "花园", "苑", "里", "新村", "公寓", "嘉园", "园", "北里")
COMPOUND_WORDS = _split(
    "阳光 绿地 锦绣 金色 碧水 富力 万科 首开 龙湖 远洋 保利 融创 华润 金隅 住总 城建 天恒 "
    "银河 枫林 春晖 翠微 紫荆 玉兰 芳草 和谐 美景 宜居 康乐 欣园 福苑 嘉和 怡然 安和 祥和 "
    "瑞雪 丽水 青年 都市 新城 晨光 明珠 东方 西城 南湖 北岸 御景 观澜 悦府 雅居 盛世 长安"
)
SHOP_WORDS = _split(
    "鑫源 顺发 老王 好邻居 惠民 便利 大众 福满 聚鲜 一品 金牌 老北京 川味 湘里 小肥 蜜雪 "
    "家家乐 优品 快捷 易达 乐活 尚品 美佳 百姓 东来 鼎盛 华联 物美 超市发"
)
SHOP_KINDS = _split(
    "超市 便利店 餐馆 烧烤店 面馆 火锅店 水果店 药店 理发店 健身房 培训机构 洗车店 菜市场 "
    "早点铺 奶茶店 蛋糕店 装修公司 中介门店"
)
ENTERPRISE_INDUSTRIES = _split(
    "科技 商贸 餐饮管理 物业管理 建筑工程 建材 文化传媒 信息技术 医药 食品 物流 汽车服务 "
    "教育咨询 环保科技 家政服务 电子商务 房地产经纪 装饰工程 机械设备 酒店管理"
)
ENTERPRISE_WORDS = _split(
    "华信 中科 京北 东方 瑞达 恒通 金鼎 鑫海 宏远 博雅 天成 海纳 正阳 安泰 嘉禾 汇丰 永信 "
    "百川 德润 盛达 宇航 新元 启明 晨星 同创 华泰 京润 卓越 远景 明德"
)

WHEN = (
    "今天上午", "今天下午", "今天早上", "昨天晚上", "昨天下午", "从前天开始", "这两天",
    "本周以来", "近一个月", "从上周开始", "今天凌晨", "每天晚上", "刚才", "最近一周",
)  # fmt: skip
DURATION = (
    "已经两个多小时", "已经半天", "已经一整天", "已经三天", "持续一周多", "已经十来天",
    "快一个月了", "已经四个小时",
)  # fmt: skip
CLOSINGS: dict[str, tuple[str, ...]] = {
    "咨询": ("请问应该怎么办理？", "想咨询相关政策。", "请问需要什么材料？", "希望给予答复。"),
    "求助": ("请尽快派人处理。", "希望相关部门帮忙解决。", "家里有老人，请尽快抢修。",
             "请帮忙协调处理。"),
    "投诉": ("要求相关部门处理。", "多次反映没人管，要求尽快解决。", "严重影响生活，请处理。",
             "希望给个说法。"),
    "举报": ("请相关部门查处。", "实名举报，请核实处理。", "希望执法部门到现场查看。"),
    "意见建议": ("建议相关部门研究改进。", "希望能够优化调整。", "提个建议，供参考。"),
}  # fmt: skip
OPENINGS = ("", "", "来电人反映：", "市民来电反映：", "来电人称：", "网民留言：")

# Request bodies per knowledge.toml topic id. Slots: {place} (compound, building), {road},
# {shop}, {company}, {when}, {dur}, {n} (a small number), {detail} (one of the topic's
# details). A topic missing here falls back to GENERIC.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "water_supply": (
        "{place}{when}突然停水，{dur}，没有接到任何停水通知。",
        "{place}水压很低，{when}开始高层基本没水，{detail}。",
        "{road}附近{detail}，{place}{when}停水，{dur}。",
        "{place}{when}开始没水，物业说是{detail}，不知道什么时候来水。",
    ),
    "water_quality": (
        "{place}自来水{detail}，{when}开始的，不敢饮用。",
        "{place}家里水龙头放出来的水{detail}，{dur}。",
    ),
    "power_supply": (
        "{place}{when}停电，{dur}，{detail}。",
        "{place}{when}频繁跳闸，{detail}，家里电器没法用。",
        "{road}一带{when}大面积停电，{detail}。",
    ),
    "gas": (
        "{place}{when}闻到楼道里有燃气味，{detail}。",
        "{place}燃气{detail}，{dur}，做不了饭。",
    ),
    "heating": (
        "{place}{when}暖气不热，室温只有{n}度，{detail}。",
        "{place}暖气{detail}，{dur}，家里有老人孩子。",
        "{place}供暖不达标，室温{n}度左右，{detail}。",
    ),
    "construction_noise": (
        "{road}旁边的工地{when}夜间施工，{detail}，严重影响休息。",
        "{place}附近工地{detail}，{dur}，晚上十一点以后还在施工。",
    ),
    "living_noise": (
        "{place}{detail}，{when}吵到半夜，影响休息。",
        "{road}的{shop}{detail}，{dur}。",
    ),
    "pollution": (
        "{road}附近{detail}，{when}气味很大。",
        "{place}旁边{detail}，{dur}，居民意见很大。",
    ),
    "wage_arrears": (
        "在{company}工作，{detail}，拖欠工资{n}个月，公司一直不给。",
        "{company}拖欠{n}名工人工资，{detail}。",
    ),
    "labor_relations": (
        "在{company}上班，{detail}，想了解如何维权。",
        "{company}{detail}，没有签劳动合同。",
    ),
    "social_insurance": (
        "咨询社保{detail}，{when}在网上办理没有成功。",
        "{company}{detail}，没有给员工缴纳社保。",
    ),
    "food_safety": (
        "在{road}的{shop}吃饭后{detail}。",
        "{road}的{shop}{detail}，卫生条件很差。",
    ),
    "consumer_rights": (
        "在{road}的{shop}办了预付卡，{detail}，商家不退钱。",
        "{when}在{shop}购物，{detail}，商家拒绝处理。",
    ),
    "illegal_parking": (
        "{place}门口{detail}，{when}堵住了消防通道。",
        "{road}上{detail}，{dur}，出行很不方便。",
    ),
    "traffic_signal": (
        "{road}路口的红绿灯{detail}，{when}开始的。",
        "{road}早晚高峰{detail}，建议优化信号配时。",
    ),
    "medical_insurance": (
        "咨询医保{detail}，{when}在医院结算有问题。",
        "异地就医备案{detail}，想问怎么办理。",
    ),
    "medical_service": (
        "{when}在医院就诊，{detail}。",
        "反映医院{detail}，{dur}。",
    ),
    "street_vending": (
        "{road}上{detail}，{when}占道严重。",
        "{place}门口{detail}，{dur}，影响通行。",
    ),
    "illegal_building": (
        "{place}{detail}，{when}开始施工，怀疑是违法建设。",
        "{place}有住户{detail}，{dur}。",
    ),
    "sanitation": (
        "{place}{detail}，{dur}，没人清理。",
        "{road}上{detail}，{when}开始的，气味难闻。",
    ),
    "property_management": (
        "{place}物业{detail}，{dur}。",
        "{place}的物业公司{detail}，业主意见很大。",
    ),
    "house_leak": (
        "{place}{detail}，{when}下雨后开始漏水。",
        "{place}楼上{detail}，{dur}，找物业不管。",
    ),
    "bus_route": (
        "{road}的公交站{detail}，{when}开始的。",
        "建议{road}一带{detail}。",
    ),
    "taxi": (
        "{when}在{road}打车，{detail}。",
        "{when}乘坐网约车，{detail}，平台不处理。",
    ),
    "education": (
        "咨询孩子{detail}，户籍在{place}。",
        "{road}附近的{shop}{detail}。",
    ),
    "household_registration": (
        "咨询{detail}，户口在{place}。",
        "{when}去派出所办理{detail}，没有办成。",
    ),
    "social_assistance": (
        "家住{place}，{detail}，想申请帮助。",
        "{place}有位独居老人{detail}，{dur}。",
    ),
    "road_facility": (
        "{road}{detail}，{when}发现的，存在安全隐患。",
        "{place}门口{detail}，{dur}。",
    ),
    "tax": (
        "咨询{detail}，{when}在电子税务局操作失败。",
        "{company}{detail}，想了解政策。",
    ),
}
GENERIC = ("{place}{detail}，{when}开始的。", "{road}附近{detail}，{dur}。")

DETAILS: dict[str, tuple[str, ...]] = {
    "water_supply": ("听说是附近水管爆了", "二次供水设备故障", "水泵房检修", "路面施工挖断水管",
                     "地下管道漏水冒水", "水表井冻裂", "加压泵坏了"),
    "water_quality": ("发黄浑浊", "有很重的漂白粉味", "有异味", "水垢特别多", "有黑色杂质"),
    "power_supply": ("整栋楼都没电", "电梯停了", "冰箱里的东西都坏了", "电压不稳", "小区配电箱冒烟",
                     "供电公司电话打不通"),
    "gas": ("燃气表不走字", "燃气灶打不着火", "已经报修了没人来", "燃气管道生锈", "IC卡充值失败"),
    "heating": ("暖气片冰凉", "只有上半截热", "家里开着空调还冷", "热力公司说正常", "阀门打不开",
                "楼道暖气漏水"),
    "construction_noise": ("渣土车来回运输", "打桩声音特别大", "电锯切割声不断", "夜间浇筑混凝土"),
    "living_noise": ("楼下商铺音响声很大", "广场舞音响太吵", "楼上每天半夜跺脚", "烧烤店半夜喧哗",
                     "KTV声音太大"),
    "pollution": ("有工厂偷排污水", "有人焚烧垃圾", "河道发黑发臭", "工地扬尘很大",
                  "油烟直排到居民楼"),
    "wage_arrears": ("项目完工后老板跑了", "说年底一起结算", "只发了一半", "以各种理由克扣"),
    "labor_relations": ("被无故辞退", "加班不给加班费", "不让休年假", "试用期被辞退没有补偿"),
    "social_insurance": ("断缴补缴", "转移接续", "退休待遇", "缴费基数", "失业金申领"),
    "food_safety": ("出现呕吐腹泻", "发现菜里有异物", "使用过期食材", "后厨老鼠乱窜", "无证经营"),
    "consumer_rights": ("店铺突然关门", "商品有质量问题", "不给开发票", "价格标示不清",
                        "退货被拒"),
    "illegal_parking": ("车辆乱停乱放", "僵尸车长期占用车位", "共享单车堆满人行道",
                        "货车占用非机动车道"),
    "traffic_signal": ("一直闪黄灯", "绿灯时间太短", "倒计时不显示", "拥堵特别严重"),
    "medical_insurance": ("报销比例", "门诊特殊病办理", "个人账户余额", "新生儿参保"),
    "medical_service": ("医生态度不好", "排队挂号时间太长", "收费有疑问", "检查结果出错"),
    "street_vending": ("有流动摊贩摆摊", "早市占道经营", "商户店外经营", "夜市摊位太多"),
    "illegal_building": ("楼顶私搭乱建", "一层住户私自扩建", "绿地上盖了彩钢房", "私挖地下室"),
    "sanitation": ("垃圾堆积", "垃圾桶满了溢出来", "公厕脏乱", "楼道堆满杂物", "死老鼠"),
    "property_management": ("电梯经常故障", "乱收停车费", "小区门禁坏了", "不公开维修资金",
                            "保安不作为"),
    "house_leak": ("顶层屋面漏水", "外墙渗水", "卫生间往楼下渗水", "墙皮大面积脱落"),
    "bus_route": ("站牌信息不准", "发车间隔太长", "建议增设公交线路", "末班车太早"),
    "taxi": ("司机绕路多收费", "司机拒载", "车内有异味", "司机态度恶劣"),
    "education": ("小学入学条件", "幼儿园入园报名", "课外培训机构退费", "转学手续"),
    "household_registration": ("身份证补办", "户口迁移", "居住证办理", "新生儿落户"),
    "social_assistance": ("生活困难", "行动不便", "需要居家养老服务", "想申请低保"),
    "road_facility": ("井盖缺失", "路灯不亮", "路面塌陷", "护栏损坏", "人行道破损"),
    "tax": ("个税汇算清缴", "发票开具", "退税进度", "小规模纳税人优惠"),
}  # fmt: skip
GENERIC_DETAILS = ("存在问题", "需要处理", "情况比较严重")

REPLIES = (
    "经核实，已安排工作人员到现场处理，问题已解决，已电话告知来电人。",
    "经现场核查，情况属实，已责令相关方整改，整改完成。",
    "已与来电人联系，解释了相关政策，来电人表示理解。",
    "经调查，已协调相关单位处理完毕，后续将加强巡查。",
    "已安排维修人员上门处理，现已恢复正常。",
    "经核实，相关问题已列入整改计划，预计近期完成。",
)
RETURN_REASONS = (
    "不属于我单位职责范围，请重新派单",
    "诉求地址不在我单位辖区",
    "诉求涉及多个部门，建议派至牵头单位",
    "派单信息不全，无法核实",
)
REJECT_NOTES = ("答复内容过于简单，请补充处理结果", "未联系来电人，请联系后重新答复")
SUPERVISE_NOTES = ("临近期限仍未办结，请加快办理", "已超期，请说明原因并尽快办结",
                   "来电人多次催办，请重点督办")  # fmt: skip

# Month multipliers (Jan..Dec) of topics with a season; topics not listed are flat.
SEASONS: dict[str, tuple[float, ...]] = {
    "heating": (4.0, 3.5, 2.2, 0.5, 0.15, 0.1, 0.1, 0.1, 0.2, 0.6, 3.0, 4.2),
    "water_supply": (1.3, 1.2, 0.9, 0.9, 1.0, 1.3, 1.6, 1.6, 1.1, 0.9, 0.9, 1.2),
    "power_supply": (0.8, 0.8, 0.7, 0.7, 0.9, 1.5, 2.2, 2.0, 1.0, 0.7, 0.7, 0.8),
    "construction_noise": (0.7, 0.4, 1.1, 1.3, 1.3, 1.2, 1.1, 1.1, 1.2, 1.2, 1.0, 0.7),
    "living_noise": (0.7, 0.8, 0.9, 1.0, 1.2, 1.4, 1.5, 1.5, 1.2, 1.0, 0.8, 0.7),
    "education": (0.6, 0.6, 1.0, 1.6, 2.0, 1.8, 1.6, 1.8, 1.2, 0.6, 0.5, 0.5),
    "tax": (0.9, 0.7, 1.6, 1.8, 1.7, 1.5, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9),
    "wage_arrears": (2.4, 1.6, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 0.9, 1.2, 2.0),
    "house_leak": (0.4, 0.4, 0.5, 0.7, 0.9, 1.6, 2.8, 2.5, 1.1, 0.7, 0.5, 0.4),
    "street_vending": (0.6, 0.6, 0.9, 1.1, 1.3, 1.4, 1.5, 1.4, 1.2, 1.0, 0.8, 0.6),
    "food_safety": (0.8, 0.9, 0.9, 1.0, 1.1, 1.3, 1.4, 1.3, 1.0, 1.0, 0.9, 0.8),
    "pollution": (1.2, 1.1, 1.1, 0.9, 0.9, 1.0, 1.1, 1.1, 0.9, 0.9, 1.1, 1.2),
    "taxi": (1.1, 1.4, 0.9, 1.0, 1.1, 0.9, 1.0, 1.0, 1.0, 1.3, 0.9, 1.0),
    "medical_insurance": (1.4, 1.0, 1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 1.0, 1.3),
}
# Topic shares of an average month (per mille); topics missing here get 20.
TOPIC_SHARES: dict[str, float] = {
    "water_supply": 60, "water_quality": 12, "power_supply": 40, "gas": 20, "heating": 45,
    "construction_noise": 55, "living_noise": 45, "pollution": 25, "wage_arrears": 45,
    "labor_relations": 35, "social_insurance": 50, "food_safety": 20, "consumer_rights": 70,
    "illegal_parking": 40, "traffic_signal": 15, "medical_insurance": 45, "medical_service": 30,
    "street_vending": 25, "illegal_building": 20, "sanitation": 30, "property_management": 70,
    "house_leak": 20, "bus_route": 20, "taxi": 20, "education": 35,
    "household_registration": 40, "social_assistance": 20, "road_facility": 30, "tax": 25,
}  # fmt: skip
ENTERPRISE_TOPICS = (
    "tax", "social_insurance", "labor_relations", "power_supply", "water_supply",
    "consumer_rights", "road_facility", "illegal_parking", "pollution",
)  # fmt: skip
# Topics of surges (a district-wide jump) and clusters (one compound), by month (1..12).
SURGE_TOPICS: dict[int, tuple[str, ...]] = {
    1: ("heating", "water_supply", "gas"), 2: ("heating", "water_supply"),
    3: ("heating", "power_supply"), 4: ("water_supply", "power_supply"),
    5: ("water_supply", "power_supply"), 6: ("power_supply", "water_supply"),
    7: ("power_supply", "water_supply", "house_leak"), 8: ("power_supply", "house_leak"),
    9: ("water_supply", "power_supply"), 10: ("water_supply", "gas"),
    11: ("heating", "water_supply"), 12: ("heating", "gas", "water_supply"),
}  # fmt: skip
CLUSTER_TOPICS: dict[int, tuple[str, ...]] = {
    1: ("heating", "property_management"), 2: ("heating", "property_management"),
    3: ("heating", "construction_noise"), 4: ("construction_noise", "property_management"),
    5: ("construction_noise", "illegal_building"), 6: ("property_management", "living_noise"),
    7: ("house_leak", "power_supply", "living_noise"), 8: ("house_leak", "power_supply"),
    9: ("construction_noise", "education"), 10: ("construction_noise", "property_management"),
    11: ("heating", "property_management"), 12: ("heating", "water_supply"),
}  # fmt: skip
SURGE_PHRASES: dict[str, str] = {
    "water_supply": "附近主水管爆裂，周边好几个小区都停水了",
    "power_supply": "暴雨后变电设备故障，周边大面积停电",
    "heating": "供热管线故障，周边小区暖气都不热",
    "gas": "燃气管线抢修，周边停气",
    "house_leak": "暴雨过后多栋楼顶层漏水",
}

# Hour-of-day weights (local time) of an ordinary working day and of a day off.
HOURS_WORKDAY = (
    0.35, 0.22, 0.15, 0.1, 0.1, 0.16, 0.45, 1.3, 3.1, 5.0, 5.3, 4.6,
    3.3, 3.9, 4.9, 5.0, 4.4, 3.7, 2.7, 2.4, 2.2, 1.8, 1.2, 0.65,
)  # fmt: skip
HOURS_DAYOFF = (
    0.45, 0.3, 0.2, 0.12, 0.1, 0.14, 0.35, 0.9, 2.0, 3.3, 4.0, 4.0,
    3.5, 3.6, 3.9, 3.9, 3.7, 3.4, 2.9, 2.7, 2.5, 2.1, 1.5, 0.8,
)  # fmt: skip
WEEKDAY_LEVEL = (1.12, 1.05, 1.0, 1.0, 0.97, 0.72, 0.68)  # Monday .. Sunday
HOLIDAY_LEVEL = 0.62
SPRING_FESTIVAL_LEVEL = 0.45
YEARLY_TREND = 0.08  # volume grows this share from the first day to the last

CHANNELS: tuple[tuple[str, float], ...] = (
    ("phone", 0.68), ("web", 0.08), ("app", 0.08), ("miniprogram", 0.06), ("wechat", 0.08),
    ("sms", 0.02),
)  # fmt: skip

# City departments beyond config/departments.toml: (code, name, parent, function).
ROOT_DEPARTMENT = ("gov", "市人民政府", "", "综合")
EXTRA_DEPARTMENTS: tuple[tuple[str, str, str, str], ...] = (
    ("development_reform", "市发展和改革委员会", "gov", "发展改革"),
    ("justice", "市司法局", "gov", "司法行政"),
    ("finance", "市财政局", "gov", "财政"),
    ("planning", "市规划和自然资源委员会", "gov", "规划自然资源"),
    ("landscape", "市园林绿化局", "gov", "园林绿化"),
    ("culture_tourism", "市文化和旅游局", "gov", "文化旅游"),
    ("emergency", "市应急管理局", "gov", "应急管理"),
    ("veterans", "市退役军人事务局", "gov", "退役军人"),
    ("sports", "市体育局", "gov", "体育"),
    ("fire", "市消防救援总队", "gov", "消防"),
    ("communications", "市通信管理局", "gov", "通信"),
    ("drainage", "市排水集团", "water", "水电气热"),
    ("thermal", "市热力集团", "heating", "水电气热"),
    ("rail_transit", "市轨道交通运营公司", "transport", "交通运输"),
    ("bus_group", "市公交集团", "transport", "交通运输"),
    ("housing_security", "市住房保障中心", "housing", "住房保障"),
    ("food_drug", "市食品药品安全监测中心", "market", "市场监管"),
    ("medical_guarantee_center", "市医疗保障事务中心", "medical_insurance", "医疗保障"),
)
FUNCTIONS: dict[str, str] = {
    "center": "综合", "water": "水电气热", "power": "水电气热", "gas": "水电气热",
    "heating": "水电气热", "environment": "生态环境", "labor": "人力社保", "market": "市场监管",
    "traffic_police": "公安", "public_security": "公安", "medical_insurance": "医疗保障",
    "health": "卫生健康", "urban_management": "城市管理", "housing": "住房保障",
    "municipal": "城市管理", "transport": "交通运输", "education": "教育",
    "civil_affairs": "民政", "tax": "税务",
}  # fmt: skip
# Topics whose tickets a district government may also receive (属地), for redispatch.
LOCAL_TOPICS = frozenset(
    {"street_vending", "illegal_building", "sanitation", "property_management", "illegal_parking",
     "construction_noise", "living_noise", "road_facility", "house_leak"}
)  # fmt: skip


def district_department(district: District) -> tuple[str, str, str, str]:
    """The district government: a department code of its own (属地 handling)."""
    return (f"district_{district.code}", f"{district.name}人民政府", "gov", "属地管理")


def street_names(rng: random.Random, district: District) -> list[str]:
    """`district.streets` distinct street names."""
    roots = list(dict.fromkeys(NAME_ROOTS))
    rng.shuffle(roots)
    names: list[str] = []
    for root in roots:
        if len(names) == district.streets:
            break
        names.append(root + rng.choice(STREET_SUFFIXES))
    return names


def compound_name(rng: random.Random) -> str:
    return rng.choice(COMPOUND_WORDS) + rng.choice(COMPOUND_SUFFIXES)


def road_name(rng: random.Random) -> str:
    return rng.choice(NAME_ROOTS) + rng.choice(ROAD_SUFFIXES)
